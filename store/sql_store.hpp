// sql_store.hpp — the production Store and Outbox, written once over store/sql.hpp: the
// policy database in one SQLite file (one host) or in PostgreSQL (several MX hosts),
// shared by many milter threads, several milter processes and aampctl.
// Threading: safe for any number of threads. Each call borrows a connection from a small
// pool (each connection with its own prepared-statement cache) and gives it back. On SQLite
// writes serialise on the file's write lock (BEGIN IMMEDIATE + busy timeout) and reads run
// in parallel under WAL; on PostgreSQL pair attempts serialise per mailbox and requester
// (Connection::lock_key). Every failure throws StoreError naming the database (never its
// password).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "policy/store.hpp"
#include "store/audit_writer.hpp"
#include "store/policy_cache.hpp"
#include "store/sql.hpp"

namespace aamp::store {

struct StoreOptions {
  // How long one statement waits for a lock held by another thread or process.
  // The milter's own timeouts must stay above it (docs/configuration.md).
  std::chrono::milliseconds busy_timeout{5000};
  // Connections kept open. More threads than this wait (at most busy_timeout) for one.
  int max_connections = 4;
  bool create = false;   // SQLite: create the file when missing
  bool migrate = false;  // apply pending migrations when opening; else require the schema
                         // this program needs (aampctl only: the daemon never migrates)
  // Answer find_mailbox and matching_rules from memory (store/policy_cache.hpp): the
  // daemon's setting. On a SQLite file each lookup first reads the change log's end (one
  // indexed read) and catches up, so a change holds from the next message on; on
  // PostgreSQL the cache refreshes every 250 ms and no lookup costs a round trip, so a
  // change holds on every host within 1 s. Off: every lookup is a query (aampctl).
  bool cache = false;
};

class SqlStore final : public Store, public Outbox {
 public:
  // Opens the database (a path or a PostgreSQL connection string, store/sql.hpp) and
  // checks its schema (or migrates it with options.migrate).
  explicit SqlStore(const std::string& database, const StoreOptions& options = {});

  // From the policy cache when there is one (options.cache); else a query.
  std::optional<ProtectedMailbox> find_mailbox(std::string_view recipient) override;
  // Indexed: exact and domain rules by (mailbox_id, pattern); wildcard rules of the one
  // mailbox scanned and glob-matched here.
  std::vector<SenderRule> matching_rules(std::int64_t mailbox_id, std::string_view sender) override;
  // Committed before it returns, in a group commit with the writes of other threads that
  // arrive meanwhile (store/audit_writer.hpp).
  void record_message(const MessageWrites& writes) override;
  // One write transaction (policy/pairing.hpp decides); `effects` runs inside it, holding
  // the write lock: it must be quick and must not call this store.
  PairRedemption redeem_pair_code(const PairAttempt& attempt,
                                  const std::function<PairEffects(const PairCheck&)>& effects) override;
  PairCheck peek_pair_code(const PairAttempt& attempt) override;

  // The thread registry and the delivered-message record: one statement of three indexed
  // reads (written by record_message, each entry one upsert).
  RegistryView registry_view(std::string_view recipient, std::string_view task_id,
                             std::string_view message_id) override;
  std::optional<OutboxReply> queued_reply(std::string_view message_id) override;

  std::vector<OutboxReply> due_replies(UnixTime now, int limit) override;
  OutboxBacklog backlog() override;
  // One conditional UPDATE: of several workers (threads, processes, hosts) exactly one wins.
  bool claim(std::int64_t id, UnixTime now, UnixTime until) override;
  void release(std::int64_t id, UnixTime due_at) override;
  void mark_sent(std::int64_t id, UnixTime now) override;
  void mark_failed(std::int64_t id, UnixTime next_attempt_at, const std::string& error) override;
  void mark_abandoned(std::int64_t id, UnixTime now, const std::string& error) override;

  const std::string& path() const noexcept { return pool_.path(); }

 private:
  void commit_batch(const std::vector<const MessageWrites*>& batch);  // one write transaction

  ConnectionPool pool_;
  std::unique_ptr<PolicyCache> cache_;  // with options.cache; uses pool_, so declared after it
  bool sync_each_lookup_ = false;       // a local file: catch up before each lookup
  // Our own threads take turns at writing here instead of meeting SQLITE_BUSY and sleeping
  // in SQLite's busy handler (1, 2, 5, 10 ... ms back-off: the latency tail measured in
  // docs/performance.md); the busy timeout still governs other processes (aampctl, a
  // second milter, other hosts). Always taken before a pool connection, never while
  // holding one.
  std::mutex write_mu_;
  AuditWriter writer_{[this](const std::vector<const MessageWrites*>& batch) { commit_batch(batch); }};
};

// Writes an audit row (with the rule's pattern and origin copied in) on `conn`.
void insert_audit(Connection& conn, const AuditRecord& record);
// Inserts an outbox row on `conn`; created_at/next_attempt_at default to `now`. Returns its id.
std::int64_t insert_reply(Connection& conn, const OutboxReply& reply, UnixTime now);

}  // namespace aamp::store
