// cmd_outbox.cpp — `aampctl outbox list|retry|drop`: the pair.respond replies the milter
// queued (docs/replies.md), to see why one is stuck, send it again now, or give it up.
// Arguments are parsed here; the work is in the run_* functions (and store/admin_lifecycle.cpp).
#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"
#include "policy/text_safety.hpp"

namespace aamp::ctl {

namespace {

nlohmann::json outbox_json(const store::OutboxEntry& e) {
  const auto& r = e.reply;
  return {{"id", r.id},
          {"state", to_string(e.state())},
          {"messageId", for_header_value(r.message_id, 998)},
          {"from", for_header_value(r.from, 998)},
          {"recipient", for_header_value(r.to, 998)},
          {"taskId", for_header_value(r.task_id, 998)},
          {"status", to_string(r.status)},
          {"attempts", r.attempts},
          {"createdAt", time_text(r.created_at)},
          {"nextAttemptAt", e.state() == store::OutboxState::pending ? nlohmann::json(time_text(r.next_attempt_at))
                                                                      : nlohmann::json(nullptr)},
          {"sentAt", optional_time_json(e.sent_at)},
          {"abandonedAt", optional_time_json(e.abandoned_at)},
          {"lastError", for_header_value(r.last_error, 998)}};
}

std::string dash(const std::string& s) { return s.empty() ? "-" : s; }

int run_list(const Globals& g, const std::optional<store::OutboxState>& state) {
  auto admin = open_admin(g);
  const auto entries = admin.list_outbox(state);
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : entries) out.push_back(outbox_json(e));
    print_json(out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : entries) {
    const auto& r = e.reply;
    rows.push_back({std::to_string(r.id), std::string(to_string(e.state())), std::to_string(r.attempts),
                    e.state() == store::OutboxState::pending ? time_text(r.next_attempt_at) : "-",
                    for_header_value(r.to, 120), std::string(to_string(r.status)), time_text(r.created_at),
                    dash(for_header_value(r.last_error, 160))});
  }
  print_table({"ID", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "RECIPIENT", "STATUS", "CREATED", "LAST ERROR"}, rows);
  return 0;
}

void print_entry(const Globals& g, const store::OutboxEntry& e, std::string_view done) {
  if (g.json) return print_json(outbox_json(e));
  fmt::print("reply {} to {} {}\n", e.reply.id, for_header_value(e.reply.to, 120), done);
}

int run_retry(const Globals& g, std::int64_t id) {
  auto admin = open_admin(g);
  const auto e = admin.retry_reply(id, now());
  print_entry(g, e, "is due now (attempts reset to 0); the milter's reply worker sends it at its next poll");
  return 0;
}

int run_drop(const Globals& g, std::int64_t id) {
  auto admin = open_admin(g);
  const auto e = admin.drop_reply(id, now(), operator_name());
  print_entry(g, e, "dropped: abandoned, never to be sent (an audit row records it)");
  return 0;
}

int list(Cli& cli, const Globals& g) {
  std::optional<store::OutboxState> state;
  if (auto v = cli.option("--state")) {
    state = parse_name(store::kOutboxStateNames, *v);
    if (!state)
      throw UsageError(fmt::format("--state '{}': expected {}", *v, join_names(store::kOutboxStateNames, ", ", " or ")));
  }
  cli.finish();
  return run_list(g, state);
}

int retry(Cli& cli, const Globals& g) {
  const auto id = parse_id(cli.positional("reply id (see aampctl outbox list)"), "reply id");
  cli.finish();
  return run_retry(g, id);
}

int drop(Cli& cli, const Globals& g) {
  const auto id = parse_id(cli.positional("reply id (see aampctl outbox list)"), "reply id");
  cli.finish();
  return run_drop(g, id);
}

}  // namespace

int cmd_outbox(Cli& cli, const Globals& g) {
  return run_subcommand(cli, g, "outbox", {{"list", list}, {"retry", retry}, {"drop", drop}});
}

}  // namespace aamp::ctl
