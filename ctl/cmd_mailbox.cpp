// cmd_mailbox.cpp — `aampctl mailbox add|set|list|remove`: the recipients aamp-milter
// protects (an agent address or a whole @domain), their mode, guarded intents and the
// trust a sender must show. Options are checked before the database is opened.
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "ctl/policy_json.hpp"
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
  nlohmann::json out = {{"id", e.mailbox.id},
                        {"address", e.mailbox.address},
                        {"mode", std::string(to_string(e.mailbox.mode))},
                        {"intents", intents},
                        {"trust", trust_json(e.mailbox.trust)},
                        {"createdAt", time_text(e.created_at)},
                        {"createdBy", e.created_by},
                        {"updatedAt", time_text(e.updated_at)},
                        {"note", e.note}};
  add_thread_settings(out, e.mailbox);
  return out;
}

std::string intents_display(const std::vector<Intent>& intents) {
  return intents.empty() ? "none" : intent_list(intents);
}

// The arguments of every mailbox command; `add` and `set` share the options.
struct Args {
  std::optional<std::string> address, mode, intents, trust, thread_binding, unknown_threads, note;
};

// "default" (the configuration's setting: NULL) or a name of `table`.
template <typename E, std::size_t N>
std::optional<E> setting_option(const NameTable<E, N>& table, const std::string& option, const std::string& text) {
  if (text == "default") return std::nullopt;
  const auto v = parse_name(table, text);
  if (!v) throw UsageError(fmt::format("{}: expected {} or default, not '{}'", option, join_names(table, ", ", ", "), text));
  return v;
}

// The options as given; absent ones stay nullopt.
store::MailboxChange change_options(const Args& a) {
  store::MailboxChange c;
  if (a.mode) c.mode = parse_mode_option(*a.mode);
  if (a.intents) c.intents = parse_intents(*a.intents);
  if (a.trust) c.trust = parse_trust(*a.trust);
  if (a.thread_binding) c.thread_binding = setting_option(kMailboxModeNames, "--thread-binding", *a.thread_binding);
  if (a.unknown_threads)
    c.unknown_threads = setting_option(kUnknownThreadsNames, "--unknown-threads", *a.unknown_threads);
  if (a.note) c.note = *a.note;
  return c;
}

// "added mailbox ... (id N): mode ..., trust ..., guarded intents ...", and the thread
// settings where the mailbox has its own (else the global ThreadBinding/UnknownThreads hold).
void print_summary(std::string_view verb, const ProtectedMailbox& m) {
  std::string threads;
  if (m.thread_binding) threads += fmt::format(", thread binding {}", to_string(*m.thread_binding));
  if (m.unknown_threads) threads += fmt::format(", unknown threads {}", to_string(*m.unknown_threads));
  fmt::print("{} mailbox {} (id {}): mode {}, trust {}, guarded intents {}{}\n", verb, m.address, m.id,
             to_string(m.mode), trust_text(m.trust), intents_display(m.guarded_intents), threads);
}

int add(const Args& a, const Globals& g) {
  const auto c = change_options(a);
  const std::string address = store::parse_mailbox_address(required(a.address, "ADDRESS_OR_@DOMAIN"));
  ProtectedMailbox m;
  m.address = address;
  if (c.mode) m.mode = *c.mode;
  if (c.intents) m.guarded_intents = *c.intents;
  if (c.trust) m.trust = *c.trust;
  if (c.thread_binding) m.thread_binding = *c.thread_binding;
  if (c.unknown_threads) m.unknown_threads = *c.unknown_threads;
  auto admin = open_admin(g);
  admin.add_mailbox(m, now(), operator_name(), c.note.value_or(""));
  const auto e = admin.mailbox(address);
  if (g.json) print_json(mailbox_json(*e));
  else print_summary("added", e->mailbox);
  return 0;
}

int set(const Args& a, const Globals& g) {
  const auto c = change_options(a);
  const std::string address = store::parse_mailbox_address(required(a.address, "ADDRESS_OR_@DOMAIN"));
  if (!c.mode && !c.intents && !c.trust && !c.thread_binding && !c.unknown_threads && !c.note)
    throw UsageError(
        "mailbox set: nothing to change (give --mode, --intents, --trust, --thread-binding, --unknown-threads or --note)");
  auto admin = open_admin(g);
  admin.update_mailbox(address, c, now());
  const auto e = admin.mailbox(address);
  if (g.json) print_json(mailbox_json(*e));
  else print_summary("changed", e->mailbox);
  return 0;
}

int list(const Globals& g) {
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

int remove(const Args& a, const Globals& g) {
  const std::string address = store::parse_mailbox_address(required(a.address, "ADDRESS_OR_@DOMAIN"));
  auto admin = open_admin(g);
  const auto r = admin.remove_mailbox(address);
  if (g.json) print_json({{"id", r.id}, {"address", address}, {"rules", r.rules}, {"pairCodes", r.pair_codes}});
  else fmt::print("removed mailbox {} (id {}) with {} sender rule(s) and {} pair code(s)\n", address, r.id, r.rules,
                  r.pair_codes);
  return 0;
}

}  // namespace

void add_mailbox(Commands& c) {
  auto& group = c.add(c.root(), "mailbox", "mailbox add|set|list|remove ...",
                      "the protected mailboxes (an agent address or a whole @domain)");
  const auto address = [](CLI::App& cmd, Args& a) {
    Commands::positional(cmd, "ADDRESS_OR_@DOMAIN", a.address, "agent@example.com, or @example.com for a domain");
  };
  const auto change = [](CLI::App& cmd, Args& a) {
    Commands::option(cmd, "--mode", a.mode, "enforce|report|off", "protection mode");
    Commands::option(cmd, "--intents", a.intents, "LIST", "guarded intents, comma-separated, or none");
    Commands::option(cmd, "--trust", a.trust, "T", "auth, internal, authres (comma-separated), any or none");
    Commands::option(cmd, "--thread-binding", a.thread_binding, "enforce|report|off|default",
                     "thread binding for this mailbox (default: ThreadBinding)");
    Commands::option(cmd, "--unknown-threads", a.unknown_threads, "allow|refuse|default",
                     "answers in threads the registry never saw (default: UnknownThreads)");
    Commands::option(cmd, "--note", a.note, "TEXT", "a note for operators");
  };
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "add",
                      "mailbox add ADDRESS_OR_@DOMAIN [--mode enforce|report|off] [--intents LIST] [--trust T] "
                      "[--note TEXT]",
                      "protect an agent address or a whole domain");
    address(cmd, *a);
    change(cmd, *a);
    c.runs(cmd, [a, &c] { return add(*a, c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "set", "mailbox set ADDRESS_OR_@DOMAIN [--mode M] [--intents LIST] [--trust T] [--note TEXT]",
                      "change the options given (at least one)");
    address(cmd, *a);
    change(cmd, *a);
    c.runs(cmd, [a, &c] { return set(*a, c.globals()); });
  }
  {
    auto& cmd = c.add(group, "list", "mailbox list", "list the protected mailboxes");
    c.runs(cmd, [&c] { return list(c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "remove", "mailbox remove ADDRESS_OR_@DOMAIN",
                      "delete a mailbox with its sender rules and pair codes");
    address(cmd, *a);
    c.runs(cmd, [a, &c] { return remove(*a, c.globals()); });
  }
}

}  // namespace aamp::ctl
