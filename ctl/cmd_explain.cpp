// cmd_explain.cpp — `aampctl explain --from SENDER --to MAILBOX [--intent I] [--context k=v]...`:
// would the sender policy let this sender send this intent to this mailbox, and which rule
// decides? The answer comes from the engine's own judge_recipient() (with the milter's
// Mode and RecipientDelimiter from -c CONFIG) and explain_sender() over the live database;
// trust (AUTH, internal hosts, DKIM) is a property of a message and is not part of it
// (`aampctl check` judges a whole message). Exit 0 allowed, 1 refused, 2 usage error.
#include <memory>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "policy/encodings.hpp"
#include "policy/engine.hpp"
#include "policy/recipient.hpp"
#include "policy/sender_pattern.hpp"
#include "store/sql_store.hpp"

namespace aamp::ctl {

namespace {

std::string address_option(const std::optional<std::string>& value, std::string_view option) {
  if (!value) throw UsageError(fmt::format("explain: {} ADDRESS is required", option));
  std::string a = normalize_address(*value);
  const auto at = a.find('@');
  if (a.empty() || at == std::string::npos || at == 0 || at + 1 == a.size() || a.find_first_of(" \t") != std::string::npos)
    throw UsageError(fmt::format("explain: {} '{}' is not a mail address", option, *value));
  return a;
}

// Repeated --context key=value (the value as the dispatch would carry it, decoded).
DispatchContext context_options(const std::vector<std::string>& pairs) {
  DispatchContext out;
  for (const auto& p : pairs) {
    const auto eq = p.find('=');
    const std::string key = p.substr(0, eq);
    if (eq == std::string::npos || key.empty() || key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos)
      throw UsageError(fmt::format("explain: --context '{}' is not key=value with a key of [a-z0-9_-]", p));
    if (!out.emplace(key, p.substr(eq + 1)).second)
      throw UsageError(fmt::format("explain: --context key '{}' given twice", key));
  }
  return out;
}

struct Args {
  std::optional<std::string> from, to, intent;
  std::vector<std::string> contexts;
};

int explain(const Args& a, const Globals& g) {
  const std::string from = address_option(a.from, "--from");
  const std::string to = address_option(a.to, "--to");
  const std::string intent_text = a.intent.value_or("task.dispatch");
  const DispatchContext context = context_options(a.contexts);
  const auto intent = parse_intent(intent_text);
  if (!intent) throw UsageError(fmt::format("explain: '{}' is not an AAMP intent", intent_text));

  // The milter's own judge of the recipient, with its Mode and RecipientDelimiter.
  const auto config = milter_config(g);
  const Policy policy = config ? config->policy : Policy{};
  store::SqlStore db(database_path(g));
  const RecipientJudgement judged = judge_recipient(db, policy, to, *intent);
  SenderVerdict v;
  if (judged.protection == Protection::none || judged.protection == Protection::off) {
    v.allowed = true;
    v.reason = to + (judged.mailbox ? " is protected in mode off: no enforcement"
                                    : " is not a protected mailbox: no enforcement");
  } else if (judged.check == IntentCheck::pairing) {
    v.allowed = true;
    v.reason = "pair.request bypasses sender policy; only its pair code is checked";
  } else if (judged.check == IntentCheck::none) {
    v.allowed = true;
    v.reason = intent_text + " needs no sender policy at " + judged.mailbox->address;
  } else {
    v = explain_sender(db, *judged.mailbox, judged.address, from, *intent, context);
    if (!v.allowed && judged.protection == Protection::report)
      v.reason += judged.mailbox->mode == MailboxMode::report ? " (mailbox in report mode: delivered anyway)"
                                                              : " (Mode report: delivered anyway)";
  }

  if (g.json) {
    print_json({{"allowed", v.allowed},
                {"rule", v.rule_id ? nlohmann::json(*v.rule_id) : nlohmann::json(nullptr)},
                {"reason", v.reason}});
  } else {
    fmt::print("{}: {}\n", v.allowed ? "allowed" : "refused", v.reason);
  }
  return v.allowed ? 0 : 1;
}

}  // namespace

void add_explain(Commands& c) {
  auto a = std::make_shared<Args>();
  auto& cmd = c.add(c.root(), "explain", "explain --from SENDER --to MAILBOX [--intent I] [--context key=value]...",
                    "would the sender policy allow it? (exit 0 allowed, 1 refused)");
  Commands::option(cmd, "--from", a->from, "SENDER", "the sender's address (required)");
  Commands::option(cmd, "--to", a->to, "MAILBOX", "the recipient's address (required)");
  Commands::option(cmd, "--intent", a->intent, "I", "the AAMP intent (default task.dispatch)");
  Commands::options(cmd, "--context", a->contexts, "key=value", "the dispatch context the dispatch would carry");
  c.runs(cmd, [a, &c] { return explain(*a, c.globals()); });
}

}  // namespace aamp::ctl
