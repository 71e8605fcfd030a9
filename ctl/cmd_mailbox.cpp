// cmd_mailbox.cpp — `aampctl mailbox add|set|list|remove`: the recipients aamp-milter
// protects (an agent address or a whole @domain), their mode, guarded intents and the
// trust a sender must show. Options are checked before the database is opened.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "policy/trust.hpp"

namespace aamp::ctl {

namespace {

nlohmann::json trust_json(TrustSet trust) {
  nlohmann::json names = nlohmann::json::array();
  for (const auto name : trust_names(trust)) names.push_back(std::string(name));
  return names;
}

nlohmann::json mailbox_json(const store::MailboxEntry& e) {
  nlohmann::json intents = nlohmann::json::array();
  for (const auto i : e.mailbox.guarded_intents) intents.push_back(std::string(to_string(i)));
  return {{"id", e.mailbox.id},
          {"address", e.mailbox.address},
          {"mode", std::string(to_string(e.mailbox.mode))},
          {"intents", intents},
          {"trust", trust_json(e.mailbox.trust)},
          {"createdAt", time_text(e.created_at)},
          {"createdBy", e.created_by},
          {"updatedAt", time_text(e.updated_at)},
          {"note", e.note}};
}

std::string intents_display(const std::vector<Intent>& intents) {
  return intents.empty() ? "none" : intent_list(intents);
}

// The options `add` and `set` share; absent ones stay nullopt.
store::MailboxChange change_options(Cli& cli) {
  store::MailboxChange c;
  if (auto v = cli.option("--mode")) c.mode = parse_mode_option(*v);
  if (auto v = cli.option("--intents")) c.intents = parse_intents(*v);
  if (auto v = cli.option("--trust")) c.trust = parse_trust(*v);
  if (auto v = cli.option("--note")) c.note = *v;
  return c;
}

int add(Cli& cli, const Globals& g) {
  const auto c = change_options(cli);  // options first: their values are not positionals
  const std::string address = store::parse_mailbox_address(cli.positional("ADDRESS_OR_@DOMAIN"));
  cli.finish();
  ProtectedMailbox m;
  m.address = address;
  if (c.mode) m.mode = *c.mode;
  if (c.intents) m.guarded_intents = *c.intents;
  if (c.trust) m.trust = *c.trust;
  auto admin = open_admin(g);
  admin.add_mailbox(m, now(), operator_name(), c.note.value_or(""));
  const auto e = admin.mailbox(address);
  if (g.json) print_json(mailbox_json(*e));
  else fmt::print("added mailbox {} (id {}): mode {}, trust {}, guarded intents {}\n", e->mailbox.address,
                  e->mailbox.id, to_string(e->mailbox.mode), trust_text(e->mailbox.trust),
                  intents_display(e->mailbox.guarded_intents));
  return 0;
}

int set(Cli& cli, const Globals& g) {
  const auto c = change_options(cli);  // options first: their values are not positionals
  const std::string address = store::parse_mailbox_address(cli.positional("ADDRESS_OR_@DOMAIN"));
  cli.finish();
  if (!c.mode && !c.intents && !c.trust && !c.note)
    throw UsageError("mailbox set: nothing to change (give --mode, --intents, --trust or --note)");
  auto admin = open_admin(g);
  admin.update_mailbox(address, c, now());
  const auto e = admin.mailbox(address);
  if (g.json) print_json(mailbox_json(*e));
  else fmt::print("changed mailbox {} (id {}): mode {}, trust {}, guarded intents {}\n", e->mailbox.address,
                  e->mailbox.id, to_string(e->mailbox.mode), trust_text(e->mailbox.trust),
                  intents_display(e->mailbox.guarded_intents));
  return 0;
}

int list(Cli& cli, const Globals& g) {
  cli.finish();
  auto admin = open_admin(g);
  const auto all = admin.list_mailboxes();
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : all) out.push_back(mailbox_json(e));
    print_json(out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.size());
  for (const auto& e : all)
    rows.push_back({std::to_string(e.mailbox.id), e.mailbox.address, std::string(to_string(e.mailbox.mode)),
                    trust_text(e.mailbox.trust), intents_display(e.mailbox.guarded_intents),
                    e.note.empty() ? "-" : e.note});
  print_table({"ID", "MAILBOX", "MODE", "TRUST", "GUARDED INTENTS", "NOTE"}, rows);
  return 0;
}

int remove(Cli& cli, const Globals& g) {
  const std::string address = store::parse_mailbox_address(cli.positional("ADDRESS_OR_@DOMAIN"));
  cli.finish();
  auto admin = open_admin(g);
  const auto r = admin.remove_mailbox(address);
  if (g.json) print_json({{"id", r.id}, {"address", address}, {"rules", r.rules}, {"pairCodes", r.pair_codes}});
  else fmt::print("removed mailbox {} (id {}) with {} sender rule(s) and {} pair code(s)\n", address, r.id, r.rules,
                  r.pair_codes);
  return 0;
}

}  // namespace

int cmd_mailbox(Cli& cli, const Globals& g) {
  return run_subcommand(cli, g, "mailbox", {{"add", add}, {"set", set}, {"list", list}, {"remove", remove}});
}

}  // namespace aamp::ctl
