// cmd_sender.cpp — `aampctl sender allow|list|remove`: the operator's sender rules
// (brief §2): who may dispatch to a mailbox, optionally narrowed by dispatch-context rules.
// Paired rules (written by pair.request) are listed and removable here too.
#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"

namespace aamp::ctl {

namespace {

nlohmann::json rule_json(const store::RuleEntry& e) {
  nlohmann::json context = nlohmann::json::object();
  for (const auto& [k, v] : e.rule.context) context[k] = v;
  return {{"id", e.rule.id},
          {"mailbox", e.mailbox},
          {"pattern", e.rule.pattern},
          {"kind", std::string(to_string(e.kind))},
          {"origin", std::string(to_string(e.rule.origin))},
          {"context", context},
          {"createdAt", time_text(e.rule.created_at)},
          {"createdBy", e.rule.created_by},
          {"updatedAt", time_text(e.updated_at)},
          {"note", e.rule.note}};
}

int allow(Cli& cli, const Globals& g) {
  const auto mailbox = cli.option("--mailbox");
  const auto contexts = cli.options("--context");
  const auto context_json = cli.option("--context-json");
  const auto note = cli.option("--note");
  const std::string pattern = cli.positional("PATTERN");
  cli.finish();
  if (!mailbox) throw UsageError("sender allow: --mailbox M is required");
  const std::string address = store::parse_mailbox_address(*mailbox);
  const auto parsed = parse_sender_pattern(pattern);
  if (!parsed) throw UsageError(fmt::format("'{}' is not a sender pattern: {}", pattern, parsed.error()));
  const ContextRules rules = parse_context_rules(contexts, context_json, "--context");
  auto admin = open_admin(g);
  const auto e = admin.allow_sender(address, pattern, rules, now(), operator_name(), note.value_or(""));
  if (g.json) print_json(rule_json(e));
  else fmt::print("added rule {}: {} may dispatch to {} (context: {})\n", e.rule.id, e.rule.pattern, e.mailbox,
                  rules_display(e.rule.context));
  return 0;
}

int list(Cli& cli, const Globals& g) {
  const auto mailbox = cli.option("--mailbox");
  cli.finish();
  std::optional<std::string> address;
  if (mailbox) address = store::parse_mailbox_address(*mailbox);
  auto admin = open_admin(g);
  const auto all = admin.list_rules(address);
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : all) out.push_back(rule_json(e));
    print_json(out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  rows.reserve(all.size());
  for (const auto& e : all)
    rows.push_back({std::to_string(e.rule.id), e.mailbox, e.rule.pattern, std::string(to_string(e.rule.origin)),
                    rules_display(e.rule.context), time_text(e.rule.created_at), e.rule.created_by,
                    e.rule.note.empty() ? "-" : e.rule.note});
  print_table({"ID", "MAILBOX", "PATTERN", "ORIGIN", "CONTEXT", "CREATED", "BY", "NOTE"}, rows);
  return 0;
}

int remove(Cli& cli, const Globals& g) {
  const auto id = parse_id(cli.positional("rule ID"), "rule ID");
  cli.finish();
  auto admin = open_admin(g);
  const auto e = admin.remove_rule(id);
  if (g.json) print_json(rule_json(e));
  else fmt::print("removed rule {}: {} for {} ({})\n", e.rule.id, e.rule.pattern, e.mailbox,
                  to_string(e.rule.origin));
  return 0;
}

}  // namespace

int cmd_sender(Cli& cli, const Globals& g) {
  return run_subcommand(cli, g, "sender", {{"allow", allow}, {"list", list}, {"remove", remove}});
}

}  // namespace aamp::ctl
