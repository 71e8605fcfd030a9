// cmd_audit.cpp — `aampctl audit` (the decisions, filtered, as a table or a JSON array)
// and `aampctl audit export` (every matching row as JSON lines, for auditors). Rows come
// oldest first from one read snapshot; the export streams and never holds the trail in memory.
#include <memory>

#include <fmt/format.h>

#include "ctl/cli11.hpp"
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

// The arguments of audit, audit export and audit prune.
struct Args {
  std::optional<std::string> since, mailbox, sender, verdict, limit, before;
};

// Reads the filters; f.limit stays -1 when --limit is not given.
store::AuditFilter filter_options(const Args& a) {
  store::AuditFilter f;
  f.limit = -1;
  if (const auto& v = a.since) f.since = parse_time(*v, now(), "--since");
  if (const auto& v = a.mailbox) {
    const auto p = parse_sender_pattern(*v);
    if (!p || p->kind == PatternKind::wildcard)
      throw UsageError(fmt::format("--mailbox '{}' is not an address or @domain", *v));
    f.mailbox = p->text;
  }
  if (const auto& v = a.sender) {
    const auto p = parse_sender_pattern(*v);
    if (!p || p->kind == PatternKind::wildcard)
      throw UsageError(fmt::format("--sender '{}' is not an address or @domain", *v));
    f.sender = p->text;
  }
  if (const auto& v = a.verdict) {
    if (v->empty()) throw UsageError("--verdict needs a value (e.g. allow, deny, pair-completed)");
    f.verdict = *v;
  }
  if (const auto& v = a.limit) f.limit = *v == "0" ? 0 : parse_id(*v, "--limit");
  return f;
}

int show(const Globals& g, store::AuditFilter f) {
  if (f.limit < 0) f.limit = f.since ? 0 : kDefaultLimit;
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

int export_rows(const Globals& g, store::AuditFilter f) {
  if (f.limit < 0) f.limit = 0;
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

enum class Sub { show, export_, prune };

int run(const Args& a, const Globals& g, Sub sub) {
  // `audit [filters]`, `audit export [filters]` or `audit prune --before T`.
  const auto& before = a.before;
  const auto f = filter_options(a);
  if (sub == Sub::prune) {
    if (!before) throw UsageError("audit prune needs --before DURATION_OR_TIME (e.g. --before 90d)");
    if (any_filter(f)) throw UsageError("audit prune takes --before only (it removes every row older than that)");
    return run_prune(g, parse_time(*before, now(), "--before"));
  }
  if (before) throw UsageError("--before belongs to audit prune");
  return sub == Sub::show ? show(g, f) : export_rows(g, f);
}

void add_filters(CLI::App& cmd, Args& a) {
  Commands::option(cmd, "--since", a.since, "T", "at or after T (RFC 3339, a date, or a duration ago: 1h, 7d)");
  Commands::option(cmd, "--mailbox", a.mailbox, "M", "the recipient: an address or @domain");
  Commands::option(cmd, "--sender", a.sender, "S", "header From or envelope sender: an address or @domain");
  Commands::option(cmd, "--verdict", a.verdict, "V", "exactly this verdict (allow, deny, pair-completed, ...)");
  Commands::option(cmd, "--limit", a.limit, "N", "the most recent N rows (0 = all)");
}

}  // namespace

void add_audit(Commands& c) {
  auto a = std::make_shared<Args>();
  auto& audit = c.add(c.root(), "audit",
                      "audit [export] [--since T] [--mailbox M] [--sender S] [--verdict V] [--limit N] | prune --before T",
                      "the milter's decisions, oldest first (latest 100 without --since or --limit)",
                      "audit [filters], audit export [filters] or audit prune --before T");
  add_filters(audit, *a);
  // Shared with prune's, so that a misplaced --before gets a clear word rather than "unexpected".
  Commands::option(audit, "--before", a->before, "T", "");
  audit.get_option("--before")->group("");
  c.runs(audit, [a, &c] { return run(*a, c.globals(), Sub::show); });

  auto& exp = c.add(audit, "export", "audit export [--since T] [--mailbox M] [--sender S] [--verdict V] [--limit N]",
                    "every matching row as JSON lines (no default limit), streaming");
  add_filters(exp, *a);
  c.runs(exp, [a, &c] { return run(*a, c.globals(), Sub::export_); });

  auto& prune = c.add(audit, "prune", "audit prune --before DURATION_OR_TIME",
                      "remove audit rows, and sent or abandoned outbox rows, older than T");
  Commands::option(prune, "--before", a->before, "T", "a duration (90d: older than 90 days) or a time (required)");
  c.runs(prune, [a, &c] { return run(*a, c.globals(), Sub::prune); });
}

}  // namespace aamp::ctl
