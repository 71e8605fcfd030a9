// cmd_outbox.cpp — `aampctl outbox list|retry|drop`: the pair.respond replies the milter
// queued (docs/replies.md), to see why one is stuck, send it again now, or give it up.
// Arguments are parsed here; the work is in the run_* functions (and store/admin_lifecycle.cpp).
#include <memory>

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

struct Args {
  std::optional<std::string> state, id;
};

int list(const Args& a, const Globals& g) {
  std::optional<store::OutboxState> state;
  if (const auto& v = a.state) {
    state = parse_name(store::kOutboxStateNames, *v);
    if (!state)
      throw UsageError(fmt::format("--state '{}': expected {}", *v, join_names(store::kOutboxStateNames, ", ", " or ")));
  }
  return run_list(g, state);
}

std::int64_t reply_id(const Args& a) {
  return parse_id(required(a.id, "reply id (see aampctl outbox list)"), "reply id");
}

}  // namespace

void add_outbox(Commands& c) {
  auto& group = c.add(c.root(), "outbox", "outbox list|retry|drop ...", "the queued pair.respond replies");
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "list", "outbox list [--state pending|sent|abandoned]", "list the queued replies");
    Commands::option(cmd, "--state", a->state, "pending|sent|abandoned", "only replies in this state");
    c.runs(cmd, [a, &c] { return list(*a, c.globals()); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "retry", "outbox retry ID", "make a pending or abandoned reply due now (attempts reset)");
    Commands::positional(cmd, "ID", a->id, "the reply's id (outbox list)");
    c.runs(cmd, [a, &c] { return run_retry(c.globals(), reply_id(*a)); });
  }
  {
    auto a = std::make_shared<Args>();
    auto& cmd = c.add(group, "drop", "outbox drop ID", "give up a pending reply (abandoned, never sent)");
    Commands::positional(cmd, "ID", a->id, "the reply's id (outbox list)");
    c.runs(cmd, [a, &c] { return run_drop(c.globals(), reply_id(*a)); });
  }
}

}  // namespace aamp::ctl
