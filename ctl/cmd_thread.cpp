// cmd_thread.cpp — `aampctl thread show TASKID`: what the thread registry knows of a TaskId
// (who started which thread with whom, until when) and the audit rows that name it.
#include <memory>

#include <fmt/format.h>

#include "ctl/commands.hpp"
#include "ctl/db_cli.hpp"

namespace aamp::ctl {

namespace {

int show(const std::optional<std::string>& task_id_arg, const Globals& g) {
  const std::string task_id = required(task_id_arg, "TASKID");
  auto admin = open_admin(g);
  const auto threads = admin.threads(task_id);
  store::AuditFilter f;
  f.task_id = task_id;
  const auto rows = admin.audit(f);
  if (g.json) {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& t : threads)
      entries.push_back({{"kind", std::string(to_string(t.kind))},
                         {"taskId", t.task_id},
                         {"initiator", t.initiator},
                         {"peer", t.peer},
                         {"createdAt", time_text(t.created_at)},
                         {"expiresAt", time_text(t.expires_at)}});
    nlohmann::json audit = nlohmann::json::array();
    for (const auto& r : rows)
      audit.push_back({{"id", r.id},
                       {"at", time_text(r.record.at)},
                       {"headerFrom", r.record.header_from},
                       {"recipient", r.record.recipient},
                       {"intent", r.record.intent},
                       {"verdict", r.verdict},
                       {"reason", r.record.reason}});
    print_json({{"taskId", task_id}, {"threads", entries}, {"audit", audit}});
  } else {
    if (threads.empty()) fmt::print("no thread with TaskId {} in the registry\n", task_id);
    for (const auto& t : threads)
      fmt::print("{} thread {}: {} -> {}, since {}, kept until {}\n", to_string(t.kind), t.task_id, t.initiator, t.peer,
                 time_text(t.created_at), time_text(t.expires_at));
    std::vector<std::vector<std::string>> table;
    table.reserve(rows.size());
    for (const auto& r : rows)
      table.push_back({time_text(r.record.at), r.record.header_from, r.record.recipient, r.record.intent, r.verdict,
                       r.record.reason});
    if (!table.empty()) print_table({"AT", "FROM", "RECIPIENT", "INTENT", "VERDICT", "REASON"}, table);
  }
  return threads.empty() && rows.empty() ? 1 : 0;
}

}  // namespace

void add_thread(Commands& c) {
  auto& group = c.add(c.root(), "thread", "thread show TASKID", "the thread registry: who started which AAMP thread with whom");
  auto task_id = std::make_shared<std::optional<std::string>>();
  auto& cmd = c.add(group, "show", "thread show TASKID",
                    "the registry's entries for a TaskId and its audit rows; exit 1 when nothing is known of it");
  Commands::positional(cmd, "TASKID", *task_id, "the X-AAMP-TaskId");
  c.runs(cmd, [task_id, &c] { return show(*task_id, c.globals()); });
}

}  // namespace aamp::ctl
