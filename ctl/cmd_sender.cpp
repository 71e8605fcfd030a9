// cmd_sender.cpp — `aampctl sender allow|list|remove`: the operator's sender rules
// (brief §2): who may dispatch to a mailbox, optionally narrowed by dispatch-context rules.
// Paired rules (written by pair.request) are listed and removable here too.
#include <memory>

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

struct Args {
  std::optional<std::string> mailbox, pattern, context_json, note, id;
  std::vector<std::string> contexts;
};

int allow(const Args& a, const Globals& g) {
  const auto& mailbox = a.mailbox;
  const auto& contexts = a.contexts;
  const auto& context_json = a.context_json;
  const auto& note = a.note;
  const std::string pattern = required(a.pattern, "PATTERN");
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

int list(const Args& a, const Globals& g) {
  const auto& mailbox = a.mailbox;
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

int remove(const Args& a, const Globals& g) {
  const auto id = parse_id(required(a.id, "rule ID"), "rule ID");
  auto admin = open_admin(g);
  const auto e = admin.remove_rule(id);
  if (g.json) print_json(rule_json(e));
  else fmt::print("removed rule {}: {} for {} ({})\n", e.rule.id, e.rule.pattern, e.mailbox,
                  to_string(e.rule.origin));
  return 0;
}

}  // namespace

void add_sender(Commands& c) {
  auto& group = c.add(c.root(), "sender", "sender allow|list|remove ...", "the sender rules of the protected mailboxes");
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "allow",
                      "sender allow --mailbox M [--] PATTERN [--context key=v1,v2]... [--context-json JSON] "
                      "[--note TEXT]",
                      "let senders matching PATTERN dispatch to mailbox M (a PATTERN beginning with '-' goes after --)");
    Commands::option(cmd, "--mailbox", a->mailbox, "M", "the mailbox row, exactly as added (required)");
    Commands::positional(cmd, "PATTERN", a->pattern, "alice@partner.com, @partner.com, ci-*@partner.com, *");
    Commands::options(cmd, "--context", a->contexts, "key=v1,v2", "a dispatch-context rule");
    Commands::option(cmd, "--context-json", a->context_json, "JSON", "the context rules as one JSON object");
    Commands::option(cmd, "--note", a->note, "TEXT", "a note for operators");
    c.runs(cmd, [a, &c] { return allow(*a, c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "list", "sender list [--mailbox M]", "list the sender rules, configured and paired");
    Commands::option(cmd, "--mailbox", a->mailbox, "M", "only this mailbox's rules");
    c.runs(cmd, [a, &c] { return list(*a, c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "remove", "sender remove ID", "delete one sender rule, configured or paired");
    Commands::positional(cmd, "ID", a->id, "the rule's id (sender list)");
    c.runs(cmd, [a, &c] { return remove(*a, c.globals()); });
  }
}

}  // namespace aamp::ctl
