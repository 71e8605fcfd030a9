// admin_lifecycle.cpp — the data lifecycle part of admin.hpp: pruning the audit trail and
// the outbox (AuditRetention, `aampctl audit prune`), inspecting, retrying and dropping
// replies (`aampctl outbox`), and the online copy of a SQLite file (`aampctl backup`).
// The SQL runs unchanged on SQLite and PostgreSQL (store/sql.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "store/admin.hpp"
#include "store/codec.hpp"
#include "store/sql_store.hpp"

namespace aamp::store {

namespace {

// The oldest rows first, a batch at a time; `at` is indexed (audit_by_time). The outbox
// holds few rows (replies to pair.requests), so its scan stays short.
constexpr std::string_view kPruneAudit =
    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)";
constexpr std::string_view kPruneOutbox =
    "DELETE FROM outbox WHERE id IN "
    "(SELECT id FROM outbox WHERE sent_at < ?1 OR abandoned_at < ?1 ORDER BY id LIMIT ?2)";

std::int64_t prune_table(Connection& conn, std::string_view sql, UnixTime before, int batch) {
  std::int64_t total = 0;
  while (true) {
    Transaction tx(conn, Transaction::Kind::write);
    conn.prepare(sql).bind(1, before).bind(2, batch).run();
    const std::int64_t n = conn.changes();
    tx.commit();
    total += n;
    // Fewer than a batch: nothing older is left (or another host took the rest meanwhile).
    if (n < batch) return total;
  }
}

// Expired first, a batch at a time; expires_at is indexed on both tables (schema 0007).
// Row values in IN: SQLite (3.15 and later) and PostgreSQL alike.
constexpr std::string_view kPruneThreads =
    "DELETE FROM threads WHERE (kind, peer, task_id) IN "
    "(SELECT kind, peer, task_id FROM threads WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)";
constexpr std::string_view kPruneDeliveries =
    "DELETE FROM delivered_messages WHERE (message_id, recipient) IN "
    "(SELECT message_id, recipient FROM delivered_messages WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)";

// An OutboxReply's columns (codec.hpp), then columns 12 and 13.
std::string outbox_columns() { return fmt::format("{}, sent_at, abandoned_at", kOutboxReplyColumns); }

OutboxEntry read_outbox(const Statement& st) {
  OutboxEntry e;
  e.reply = outbox_reply_columns(st);
  e.sent_at = st.maybe_int64(12);
  e.abandoned_at = st.maybe_int64(13);
  return e;
}

std::string state_condition(OutboxState state) {
  switch (state) {
    case OutboxState::pending: return "sent_at IS NULL AND abandoned_at IS NULL";
    case OutboxState::sent: return "sent_at IS NOT NULL";
    case OutboxState::abandoned: return "sent_at IS NULL AND abandoned_at IS NOT NULL";
  }
  return "1 = 1";
}

std::string errno_text(int err) { return std::generic_category().message(err); }

}  // namespace

PruneCounts prune_before(Connection& conn, UnixTime before, int batch) {
  if (batch < 1) batch = 1;
  PruneCounts counts;
  counts.audit = prune_table(conn, kPruneAudit, before, batch);
  counts.outbox = prune_table(conn, kPruneOutbox, before, batch);
  return counts;
}

RegistryPruneCounts prune_registry(Connection& conn, UnixTime now, int batch) {
  if (batch < 1) batch = 1;
  RegistryPruneCounts counts;
  counts.threads = prune_table(conn, kPruneThreads, now, batch);
  counts.deliveries = prune_table(conn, kPruneDeliveries, now, batch);
  return counts;
}

std::vector<OutboxEntry> PolicyAdmin::list_outbox(const std::optional<OutboxState>& state) {
  const std::string where = state ? state_condition(*state) : "1 = 1";
  auto st = conn_->prepare(fmt::format("SELECT {} FROM outbox WHERE {} ORDER BY id", outbox_columns(), where));
  std::vector<OutboxEntry> out;
  while (st.step()) out.push_back(read_outbox(st));
  return out;
}

std::optional<OutboxEntry> PolicyAdmin::outbox_entry(std::int64_t id) {
  auto st = conn_->prepare(fmt::format("SELECT {} FROM outbox WHERE id = ?1", outbox_columns()));
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  auto e = read_outbox(st);
  st.run();
  return e;
}

OutboxEntry PolicyAdmin::retry_reply(std::int64_t id, UnixTime now) {
  Transaction tx(*conn_, Transaction::Kind::write);
  const auto e = outbox_entry(id);
  if (!e) throw AdminError(fmt::format("no reply with id {} in the outbox (see aampctl outbox list)", id));
  if (e->state() == OutboxState::sent)
    throw AdminError(fmt::format("reply {} was sent already; nothing to retry", id));
  conn_->prepare(
           "UPDATE outbox SET attempts = 0, next_attempt_at = ?2, created_at = ?2, abandoned_at = NULL, "
           "last_error = '' WHERE id = ?1 AND sent_at IS NULL")
      .bind(1, id)
      .bind(2, now)
      .run();
  auto after = outbox_entry(id);
  tx.commit();
  return *after;
}

OutboxEntry PolicyAdmin::drop_reply(std::int64_t id, UnixTime now, const std::string& by) {
  Transaction tx(*conn_, Transaction::Kind::write);
  const auto e = outbox_entry(id);
  if (!e) throw AdminError(fmt::format("no reply with id {} in the outbox (see aampctl outbox list)", id));
  if (e->state() != OutboxState::pending)
    throw AdminError(fmt::format("reply {} is {} already; only a pending reply can be dropped", id,
                                 to_string(e->state())));
  const std::string why = "dropped by " + by;
  conn_->prepare(
           "UPDATE outbox SET abandoned_at = ?2, last_error = ?3 "
           "WHERE id = ?1 AND sent_at IS NULL AND abandoned_at IS NULL")
      .bind(1, id)
      .bind(2, now)
      .bind(3, why)
      .run();
  // The trail says who gave the reply up, as it says when the worker does (mail/outbox_worker.cpp).
  AuditRecord record;
  record.at = now;
  record.message_id = e->reply.message_id;
  record.header_from = e->reply.from;
  record.recipient = e->reply.to;
  record.intent = "pair.respond";
  record.task_id = e->reply.task_id;
  record.verdict = AuditVerdict::reply_abandoned;
  record.reason = why;
  insert_audit(*conn_, record);
  auto after = outbox_entry(id);
  tx.commit();
  return *after;
}

void PolicyAdmin::backup(const std::string& file, bool replace) {
  namespace fs = std::filesystem;
  if (conn_->dialect() != Dialect::sqlite)
    throw AdminError(
        "backup copies a SQLite file; for PostgreSQL use pg_dump (docs/operations.md, \"Backup and restore\"), "
        "or aampctl export for the policy alone");
  if (file.empty()) throw AdminError("backup needs a file name");
  std::error_code ec;
  if (fs::exists(file, ec)) {
    if (fs::equivalent(file, database_, ec))
      throw AdminError(fmt::format("{} is the database itself; choose another file", file));
    if (!replace) throw AdminError(fmt::format("{} exists; give --force to replace it", file));
    if (fs::is_directory(file, ec)) throw AdminError(fmt::format("{} is a directory", file));
  }
  // An empty, private file beside the target: VACUUM INTO writes into it (it must be empty
  // or absent), then it takes the target's name in one step, so a reader never sees half a
  // copy and a failed copy leaves nothing behind.
  const fs::path target(file);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmp = (dir / (".aampctl-backup-" + target.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(tmp.data());  // mode 0600
  if (fd < 0) throw AdminError(fmt::format("cannot create a file in {}: {}", dir.string(), errno_text(errno)));
  fchmod(fd, 0600);
  close(fd);
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) {
        unlink(path.c_str());
        unlink((path + "-journal").c_str());
      }
    }
  } cleanup{tmp};
  conn_->prepare("VACUUM INTO ?1").bind(1, tmp).run();
  if (replace) {
    if (rename(tmp.c_str(), file.c_str()) != 0)
      throw AdminError(fmt::format("cannot write {}: {}", file, errno_text(errno)));
  } else {
    // link(2) refuses an existing name: a file that appeared meanwhile is never overwritten.
    if (link(tmp.c_str(), file.c_str()) != 0) {
      const int err = errno;
      if (err == EEXIST) throw AdminError(fmt::format("{} exists; give --force to replace it", file));
      throw AdminError(fmt::format("cannot write {}: {}", file, errno_text(err)));
    }
  }
  if (!replace) return;  // the Cleanup unlinks the temporary name
  cleanup.path.clear();
}

}  // namespace aamp::store
