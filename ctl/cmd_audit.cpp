// cmd_audit.cpp — `aampctl audit` (the decisions, filtered, as a table or a JSON array)
// and `aampctl audit export` (every matching row as JSON lines, for auditors). Rows come
// oldest first from one read snapshot; the export streams and never holds the trail in memory.
#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"

namespace aamp::ctl {

namespace {

constexpr std::int64_t kDefaultLimit = 100;  // `audit` without --since or --limit: the latest 100

nlohmann::json row_json(const store::AuditEntry& e) {
  const auto& a = e.record;
  return {{"id", e.id},
          {"at", time_text(a.at)},
          {"messageId", a.message_id},
          {"clientAddr", a.client_addr},
          {"authUser", a.auth_user},
          {"envelopeFrom", a.envelope_from},
          {"headerFrom", a.header_from},
          {"recipient", a.recipient},
          {"intent", a.intent},
          {"taskId", a.task_id},
          {"verdict", e.verdict},
          {"reason", a.reason},
          {"ruleId", a.rule_id ? nlohmann::json(*a.rule_id) : nlohmann::json(nullptr)},
          {"rulePattern", e.rule_pattern ? nlohmann::json(*e.rule_pattern) : nlohmann::json(nullptr)},
          {"ruleOrigin", e.rule_origin ? nlohmann::json(*e.rule_origin) : nlohmann::json(nullptr)}};
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// Reads the filters; f.limit stays -1 when --limit is not given.
store::AuditFilter filter_options(Cli& cli) {
  store::AuditFilter f;
  f.limit = -1;
  if (auto v = cli.option("--since")) f.since = parse_time(*v, now(), "--since");
  if (auto v = cli.option("--mailbox")) {
    const auto p = parse_sender_pattern(*v);
    if (!p || p->kind == PatternKind::wildcard)
      throw UsageError(fmt::format("--mailbox '{}' is not an address or @domain", *v));
    f.mailbox = p->text;
  }
  if (auto v = cli.option("--sender")) {
    const auto p = parse_sender_pattern(*v);
    if (!p || p->kind == PatternKind::wildcard)
      throw UsageError(fmt::format("--sender '{}' is not an address or @domain", *v));
    f.sender = p->text;
  }
  if (auto v = cli.option("--verdict")) {
    if (v->empty()) throw UsageError("--verdict needs a value (e.g. allow, deny, pair-completed)");
    f.verdict = *v;
  }
  if (auto v = cli.option("--limit")) f.limit = *v == "0" ? 0 : parse_id(*v, "--limit");
  return f;
}

int show(Cli& cli, const Globals& g, store::AuditFilter f) {
  if (f.limit < 0) f.limit = f.since ? 0 : kDefaultLimit;
  cli.finish();
  auto admin = open_admin(g);
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    admin.audit(f, [&](const store::AuditEntry& e) { out.push_back(row_json(e)); });
    print_json(out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  admin.audit(f, [&](const store::AuditEntry& e) {
    const auto& a = e.record;
    rows.push_back({time_text(a.at), e.verdict, a.recipient, or_dash(a.header_from), or_dash(a.intent),
                    or_dash(a.task_id), a.rule_id ? std::to_string(*a.rule_id) : "-", or_dash(a.message_id), a.reason});
  });
  print_table({"TIME", "VERDICT", "RECIPIENT", "FROM", "INTENT", "TASK", "RULE", "QUEUE ID", "REASON"}, rows);
  return 0;
}

int export_rows(Cli& cli, const Globals& g, store::AuditFilter f) {
  if (f.limit < 0) f.limit = 0;
  cli.finish();
  auto admin = open_admin(g);
  admin.audit(f, [&](const store::AuditEntry& e) { print_json(row_json(e)); });
  return 0;
}

int run_prune(const Globals& g, UnixTime before) {
  auto admin = open_admin(g);
  const auto n = admin.prune(before);
  if (g.json) print_json({{"before", time_text(before)}, {"audit", n.audit}, {"outbox", n.outbox}});
  else fmt::print("removed {} audit rows and {} sent or abandoned outbox rows from before {}\n", n.audit, n.outbox,
                  time_text(before));
  return 0;
}

bool any_filter(const store::AuditFilter& f) {
  return f.since || f.mailbox || f.sender || f.verdict || f.limit >= 0;
}

}  // namespace

int cmd_audit(Cli& cli, const Globals& g) {
  // `audit [filters]`, `audit export [filters]` or `audit prune --before T`.
  const auto before = cli.option("--before");
  const auto f = filter_options(cli);  // first: their values are not positionals
  const auto sub = cli.maybe_positional();
  if (sub == "prune") {
    if (!before) throw UsageError("audit prune needs --before DURATION_OR_TIME (e.g. --before 90d)");
    if (any_filter(f)) throw UsageError("audit prune takes --before only (it removes every row older than that)");
    const UnixTime t = parse_time(*before, now(), "--before");
    cli.finish();
    return run_prune(g, t);
  }
  if (before) throw UsageError("--before belongs to audit prune");
  if (!sub) return show(cli, g, f);
  if (*sub == "export") return export_rows(cli, g, f);
  throw UsageError("unknown audit command '" + *sub + "' (audit [filters], audit export [filters] or audit prune --before T)");
}

}  // namespace aamp::ctl
