// sql_store.cpp — see sql_store.hpp. The pair-code decision is policy/pairing's; this file
// reads and writes for it inside one write transaction. The SQL runs unchanged on SQLite
// and PostgreSQL (store/sql.hpp's shared dialect).
#include "store/sql_store.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "policy/pairing.hpp"
#include "policy/sender_pattern.hpp"
#include "store/codec.hpp"
#include "store/migrate.hpp"
#include "store/sql_policy_source.hpp"

namespace aamp::store {

// --- SqlStore -------------------------------------------------------------------------

namespace {

const std::string kFindMailbox = fmt::format("SELECT {} FROM mailboxes WHERE address IN (?1, ?2)", kMailboxColumns);

// Exact and domain rules through sender_rules_by_pattern; wildcard rules of the mailbox
// through the partial index sender_rules_wildcards. Sorted here, after the glob filter,
// not in SQL: an ORDER BY over the UNION costs two sorters per lookup.
constexpr std::string_view kMatchingRules =
    "SELECT id, pattern, pattern_kind, context_rules, origin, created_at, created_by, note "
    "FROM sender_rules WHERE mailbox_id = ?1 AND pattern IN (?2, ?3) AND pattern_kind <> 'wildcard' "
    "UNION ALL "
    "SELECT id, pattern, pattern_kind, context_rules, origin, created_at, created_by, note "
    "FROM sender_rules WHERE mailbox_id = ?1 AND pattern_kind = 'wildcard'";

constexpr std::string_view kInsertAudit =
    "INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, intent, "
    "task_id, verdict, reason, rule_id, rule_pattern, rule_origin) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "(SELECT pattern FROM sender_rules WHERE id = ?12), (SELECT origin FROM sender_rules WHERE id = ?12))";

constexpr std::string_view kInsertReply =
    "INSERT INTO outbox (message_id, from_addr, to_addr, task_id, status, error_msg, in_reply_to, created_at, "
    "attempts, next_attempt_at, last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id";

constexpr std::string_view kActiveLockout =
    "SELECT max(until) FROM pair_lockouts WHERE (mailbox_id = ?1 OR requester = ?2) AND until > ?3";

constexpr std::string_view kFindCode =
    "SELECT id, mailbox_id, code_hash, rules, expires_at, consumed_at, revoked_at, address FROM pair_codes "
    "WHERE code_hash = ?1";

// The consume itself: only an unconsumed, unrevoked, unexpired code changes.
constexpr std::string_view kConsumeCode =
    "UPDATE pair_codes SET consumed_at = ?2, consumed_by = ?3 "
    "WHERE id = ?1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > ?2";

constexpr std::string_view kUpsertPairedRule =
    "INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, "
    "updated_at) VALUES (?1, ?2, 'exact', ?3, 'paired', ?4, ?5, ?4) "
    "ON CONFLICT (mailbox_id, pattern) WHERE origin = 'paired' "
    "DO UPDATE SET context_rules = excluded.context_rules, updated_at = excluded.updated_at "
    "RETURNING id";

constexpr std::string_view kPruneFailures = "DELETE FROM pair_failures WHERE at <= ?1";
constexpr std::string_view kInsertFailure =
    "INSERT INTO pair_failures (mailbox_id, requester, at, outcome) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kMailboxFailures = "SELECT count(*) FROM pair_failures WHERE mailbox_id = ?1 AND at > ?2";
constexpr std::string_view kRequesterFailures = "SELECT count(*) FROM pair_failures WHERE requester = ?1 AND at > ?2";
constexpr std::string_view kLockMailbox =
    "INSERT INTO pair_lockouts (mailbox_id, locked_at, until, failures) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (mailbox_id) DO UPDATE SET locked_at = excluded.locked_at, until = excluded.until, "
    "failures = excluded.failures";
constexpr std::string_view kLockRequester =
    "INSERT INTO pair_lockouts (requester, locked_at, until, failures) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (requester) DO UPDATE SET locked_at = excluded.locked_at, until = excluded.until, "
    "failures = excluded.failures";

constexpr std::string_view kDueReplies =
    "SELECT id, message_id, from_addr, to_addr, task_id, status, error_msg, in_reply_to, created_at, attempts, "
    "next_attempt_at, last_error FROM outbox "
    "WHERE sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= ?1 "
    "ORDER BY created_at, id LIMIT ?2";
constexpr std::string_view kQueuedReply =
    "SELECT id, message_id, from_addr, to_addr, task_id, status, error_msg, in_reply_to, created_at, attempts, "
    "next_attempt_at, last_error FROM outbox WHERE message_id = ?1 ORDER BY id LIMIT 1";
constexpr std::string_view kOutboxBacklog =
    "SELECT COUNT(*), COALESCE(MIN(created_at), 0) FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL";
constexpr std::string_view kClaimReply =
    "UPDATE outbox SET next_attempt_at = ?3 "
    "WHERE id = ?1 AND sent_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= ?2";
constexpr std::string_view kReleaseReply =
    "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1 AND sent_at IS NULL AND abandoned_at IS NULL";
constexpr std::string_view kMarkSent =
    "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1 "
    "WHERE id = ?1 AND sent_at IS NULL AND abandoned_at IS NULL";
constexpr std::string_view kMarkFailed =
    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 "
    "WHERE id = ?1 AND sent_at IS NULL AND abandoned_at IS NULL";
constexpr std::string_view kMarkAbandoned =
    "UPDATE outbox SET abandoned_at = ?2, last_error = ?3 "
    "WHERE id = ?1 AND sent_at IS NULL AND abandoned_at IS NULL";

// A recipient's registry view in one read: the threads it is the peer of (the primary key),
// those it started (threads_by_initiator), and its delivery of the message (a row with no
// kind). Every kind named (from the name table), so that both indexes lead with it.
const std::string kRegistryView = fmt::format(
    "SELECT {0} FROM threads WHERE kind IN ({1}) AND peer = ?1 AND task_id = ?2 "
    "UNION ALL "
    "SELECT {0} FROM threads WHERE kind IN ({1}) AND initiator = ?1 AND task_id = ?2 AND peer <> ?1 "
    "UNION ALL "
    "SELECT NULL, message_id, recipient, recipient, delivered_at, expires_at FROM delivered_messages "
    "WHERE message_id = ?3 AND recipient = ?1",
    kThreadColumns, "'" + join_names(kThreadKindNames, "', '", "', '") + "'");
// First initiator wins; the same one again extends the entry's life.
constexpr std::string_view kRecordThread =
    "INSERT INTO threads (kind, task_id, initiator, peer, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (kind, peer, task_id) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE threads.initiator = excluded.initiator AND threads.expires_at < excluded.expires_at";
constexpr std::string_view kRecordDelivery =
    "INSERT INTO delivered_messages (message_id, recipient, delivered_at, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (message_id, recipient) DO NOTHING";

std::int64_t count(Connection& conn, std::string_view sql, const auto& key, UnixTime since) {
  auto st = conn.prepare(sql);
  st.bind(1, key).bind(2, since);
  return st.step() ? st.int64(0) : 0;
}

ConnectionOptions connection_options(const StoreOptions& o) {
  ConnectionOptions c;
  c.create = o.create;
  c.busy_timeout = o.busy_timeout;
  return c;
}

}  // namespace

SqlStore::SqlStore(const std::string& database, const StoreOptions& options)
    : pool_(database, connection_options(options), options.max_connections) {
  {
    auto conn = pool_.acquire();  // opens the first connection now: a bad path fails at startup
    if (options.migrate) migrate(*conn);
    else require_current(*conn);
    sync_each_lookup_ = conn->dialect() == Dialect::sqlite;
  }
  if (options.cache) cache_ = std::make_unique<PolicyCache>(make_sql_policy_source(pool_));
}

std::optional<ProtectedMailbox> SqlStore::find_mailbox(std::string_view recipient) {
  if (cache_) {
    if (sync_each_lookup_) cache_->sync();
    return cache_->find_mailbox(recipient);
  }
  const std::string address = normalize_address(recipient);
  // append, not "@" + std::string(...): GCC 12 at -O3 reports a false -Wrestrict.
  const std::string domain =
      address.find('@') == std::string::npos ? std::string() : std::string("@").append(domain_of(address));
  auto conn = pool_.acquire();
  auto st = conn->prepare(kFindMailbox);
  st.bind(1, address).bind(2, domain);
  std::optional<ProtectedMailbox> found;
  while (st.step()) {
    ProtectedMailbox m = mailbox_columns(st);
    if (!found || m.address == address) found = std::move(m);  // the exact address wins
  }
  return found;
}

std::vector<SenderRule> SqlStore::matching_rules(std::int64_t mailbox_id, std::string_view sender) {
  if (cache_) {
    if (sync_each_lookup_) cache_->sync();
    return cache_->matching_rules(mailbox_id, sender);
  }
  const std::string address = normalize_address(sender);
  const auto at = address.rfind('@');
  const std::string domain = at == std::string::npos ? std::string() : address.substr(at);
  auto conn = pool_.acquire();
  auto st = conn->prepare(kMatchingRules);
  st.bind(1, mailbox_id).bind(2, address).bind(3, domain);
  std::vector<SenderRule> out;
  while (st.step()) {
    const std::string pattern = st.text(1);
    if (!rule_covers(kind_column(st.text(2)), pattern, address)) continue;
    SenderRule r;
    r.id = st.int64(0);
    r.mailbox_id = mailbox_id;
    r.pattern = pattern;
    r.context = rules_column(st.text(3));
    r.origin = origin_column(st.text(4));
    r.created_at = st.int64(5);
    r.created_by = st.text(6);
    r.note = st.text(7);
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const SenderRule& a, const SenderRule& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;  // oldest first
  });
  return out;
}

namespace {

Write audit_write(const AuditRecord& a) {
  return Write(kInsertAudit, a.at, a.message_id, a.client_addr, a.auth_user, a.envelope_from, a.header_from,
               a.recipient, a.intent, a.task_id, to_string(a.verdict), a.reason, a.rule_id);
}

Write thread_write(const ThreadEntry& e) {
  return Write(kRecordThread, to_string(e.kind), e.task_id, e.initiator, e.peer, e.created_at, e.expires_at);
}

Write delivery_write(const DeliveryEntry& d) {
  return Write(kRecordDelivery, d.message_id, d.recipient, d.at, d.expires_at);
}

}  // namespace

void insert_audit(Connection& conn, const AuditRecord& a) { conn.run(audit_write(a)); }

std::int64_t insert_reply(Connection& conn, const OutboxReply& r, UnixTime now) {
  const UnixTime created = r.created_at != 0 ? r.created_at : now;
  auto st = conn.prepare(kInsertReply);
  st.bind(1, r.message_id).bind(2, r.from).bind(3, r.to).bind(4, r.task_id).bind(5, to_string(r.status));
  st.bind(6, r.error_msg).bind(7, r.in_reply_to).bind(8, created).bind(9, r.attempts);
  st.bind(10, r.next_attempt_at != 0 ? r.next_attempt_at : created).bind(11, r.last_error);
  if (!st.step()) throw StoreError(StoreErrorKind::io, conn.path() + ": the outbox insert returned no id");
  const std::int64_t id = st.int64(0);
  st.run();
  return id;
}

void SqlStore::record_message(const MessageWrites& writes) {
  if (!writes.empty()) writer_.write(writes);
}

void SqlStore::commit_batch(const std::vector<const MessageWrites*>& batch) {
  std::vector<Write> writes;
  for (const MessageWrites* m : batch) {
    for (const auto& a : m->audit) writes.push_back(audit_write(a));
    for (const auto& e : m->registry.threads) writes.push_back(thread_write(e));
    for (const auto& d : m->registry.deliveries) writes.push_back(delivery_write(d));
  }
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  // One statement alone is atomic by itself; several are one transaction, and on
  // PostgreSQL one pipeline: one round trip for the batch, which is what bounds a
  // message's latency there.
  conn->write_all(writes);
}

namespace {

// The pairing transaction's reads and writes on one connection (policy/pairing.hpp makes
// the decision). For an update, the attempt's mailbox and requester are locked first (in
// that order, so two attempts never wait for each other in a cycle): failures are counted
// and lockouts started by one attempt at a time, across every host on the database.
class SqlPairLedger final : public PairLedger {
 public:
  explicit SqlPairLedger(Connection& conn) : conn_(conn) {}

  PairReading read_pair(const PairAttempt& attempt, const std::string& requester, bool for_update) override {
    if (for_update) {
      conn_.lock_key("aamp-pair-mailbox:" + std::to_string(attempt.mailbox_id));
      conn_.lock_key("aamp-pair-requester:" + requester);
    }
    PairReading r;
    {
      auto st = conn_.prepare(kActiveLockout);
      st.bind(1, attempt.mailbox_id).bind(2, requester).bind(3, attempt.now);
      if (st.step() && !st.is_null(0)) r.locked_until = st.int64(0);
    }
    {
      auto st = conn_.prepare(kFindCode);
      st.bind(1, pair_lookup_hash(attempt));
      if (st.step()) {
        StoredPairCode c;
        c.id = st.int64(0);
        c.mailbox_id = st.int64(1);
        c.code_hash = st.text(2);
        c.rules = rules_column(st.text(3));
        c.expires_at = st.int64(4);
        c.consumed = !st.is_null(5);
        c.revoked = !st.is_null(6);
        c.address = st.maybe_text(7).value_or("");
        r.code = std::move(c);
      }
    }
    const UnixTime since = failure_window_start(attempt);
    r.mailbox_failures = count(conn_, kMailboxFailures, attempt.mailbox_id, since);
    r.requester_failures = count(conn_, kRequesterFailures, requester, since);
    return r;
  }

  bool consume_code(std::int64_t code_id, UnixTime now, const std::string& requester) override {
    conn_.prepare(kConsumeCode).bind(1, code_id).bind(2, now).bind(3, requester).run();
    return conn_.changes() == 1;
  }

  std::int64_t upsert_paired_rule(std::int64_t mailbox_id, const std::string& requester, const ContextRules& rules,
                                  UnixTime now, const std::string& by) override {
    auto st = conn_.prepare(kUpsertPairedRule);
    st.bind(1, mailbox_id).bind(2, requester).bind(3, rules_text(rules)).bind(4, now).bind(5, by);
    if (!st.step()) throw StoreError(StoreErrorKind::io, conn_.path() + ": the paired rule upsert returned no id");
    return st.int64(0);
  }

  void record_failure(std::int64_t mailbox_id, const std::string& requester, UnixTime now, PairOutcome outcome,
                      UnixTime window_start) override {
    conn_.prepare(kPruneFailures).bind(1, window_start).run();
    conn_.prepare(kInsertFailure).bind(1, mailbox_id).bind(2, requester).bind(3, now).bind(4, to_string(outcome)).run();
  }

  void lock_mailbox(std::int64_t mailbox_id, UnixTime now, const PairLockout& l) override {
    conn_.prepare(kLockMailbox).bind(1, mailbox_id).bind(2, now).bind(3, l.until).bind(4, l.failures).run();
  }

  void lock_requester(const std::string& requester, UnixTime now, const PairLockout& l) override {
    conn_.prepare(kLockRequester).bind(1, requester).bind(2, now).bind(3, l.until).bind(4, l.failures).run();
  }

  void insert_audit(const AuditRecord& record) override { store::insert_audit(conn_, record); }
  void insert_reply(const OutboxReply& reply, UnixTime now) override { store::insert_reply(conn_, reply, now); }

 private:
  Connection& conn_;
};

}  // namespace

PairCheck SqlStore::peek_pair_code(const PairAttempt& attempt) {
  auto conn = pool_.acquire();
  Transaction tx(*conn, Transaction::Kind::read);  // lockout and code from one snapshot
  SqlPairLedger ledger(*conn);
  return peek_pair(ledger, attempt);
}

PairRedemption SqlStore::redeem_pair_code(const PairAttempt& attempt,
                                             const std::function<PairEffects(const PairCheck&)>& effects) {
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  Transaction tx(*conn, Transaction::Kind::write);
  SqlPairLedger ledger(*conn);
  PairRedemption result = redeem_pair(ledger, attempt, effects);
  tx.commit();
  // This host enforces a new paired rule from the next message on, whatever the cache's
  // interval; a failure here is the background refresh's to retry.
  if (cache_ && result.rule_id) {
    try {
      cache_->refresh();
    } catch (const StoreError&) {  // remembered by the cache; its background refresh retries
    }
  }
  return result;
}

RegistryView SqlStore::registry_view(std::string_view recipient, std::string_view task_id,
                                    std::string_view message_id) {
  auto conn = pool_.acquire();
  auto st = conn->prepare(kRegistryView);
  st.bind(1, recipient).bind(2, task_id).bind(3, message_id);
  RegistryView view;
  while (st.step()) {
    if (st.is_null(0)) view.delivered_at = st.int64(4);
    else view.threads.push_back(thread_columns(st));
  }
  return view;
}

std::vector<OutboxReply> SqlStore::due_replies(UnixTime now, int limit) {
  auto conn = pool_.acquire();
  auto st = conn->prepare(kDueReplies);
  st.bind(1, now).bind(2, std::max(0, limit));
  std::vector<OutboxReply> out;
  while (st.step()) {
    OutboxReply r = outbox_reply_columns(st);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<OutboxReply> SqlStore::queued_reply(std::string_view message_id) {
  auto conn = pool_.acquire();
  auto st = conn->prepare(kQueuedReply);
  st.bind(1, message_id);
  if (!st.step()) return std::nullopt;
  return outbox_reply_columns(st);
}

OutboxBacklog SqlStore::backlog() {
  auto conn = pool_.acquire();
  auto st = conn->prepare(kOutboxBacklog);
  OutboxBacklog b;
  if (st.step()) {
    b.depth = st.int64(0);
    b.oldest_created_at = st.int64(1);
  }
  return b;
}

bool SqlStore::claim(std::int64_t id, UnixTime now, UnixTime until) {
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  conn->prepare(kClaimReply).bind(1, id).bind(2, now).bind(3, until).run();
  return conn->changes() == 1;
}

void SqlStore::release(std::int64_t id, UnixTime due_at) {
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  conn->prepare(kReleaseReply).bind(1, id).bind(2, due_at).run();
}

void SqlStore::mark_sent(std::int64_t id, UnixTime now) {
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  conn->prepare(kMarkSent).bind(1, id).bind(2, now).run();
}

void SqlStore::mark_failed(std::int64_t id, UnixTime next_attempt_at, const std::string& error) {
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  conn->prepare(kMarkFailed).bind(1, id).bind(2, next_attempt_at).bind(3, error).run();
}

void SqlStore::mark_abandoned(std::int64_t id, UnixTime now, const std::string& error) {
  const std::lock_guard writing(write_mu_);
  auto conn = pool_.acquire();
  conn->prepare(kMarkAbandoned).bind(1, id).bind(2, now).bind(3, error).run();
}

}  // namespace aamp::store
