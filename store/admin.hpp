// admin.hpp — what operators (aampctl) and test/benchmark set-up do to the policy database:
// mailboxes, sender rules, pair codes, the audit trail. Every change is one transaction
// that validates before it writes, so a refused change leaves the database as it was.
// Bad input (unknown mailbox, malformed pattern, ...) throws AdminError; database failures
// throw StoreError. Threading: one PolicyAdmin per thread (it owns one connection).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "policy/names.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"
#include "store/migrate.hpp"
#include "store/sql.hpp"

namespace aamp::store {

// The operator asked for something the database cannot do as asked; nothing changed.
class AdminError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MailboxEntry {
  ProtectedMailbox mailbox;
  UnixTime created_at = 0;
  std::string created_by;
  UnixTime updated_at = 0;
  std::string note;
};

// `mailbox set`: only the fields given change.
struct MailboxChange {
  std::optional<MailboxMode> mode;
  std::optional<std::vector<Intent>> intents;
  std::optional<TrustSet> trust;
  // Set: the new value, where nullopt inside means "the configuration's" (column NULL).
  std::optional<std::optional<MailboxMode>> thread_binding;
  std::optional<std::optional<UnknownThreads>> unknown_threads;
  std::optional<std::string> note;
};

struct RemovedMailbox {
  std::int64_t id = 0;
  std::int64_t rules = 0;       // sender rules removed with it
  std::int64_t pair_codes = 0;  // pair codes removed with it
};

struct RuleEntry {
  SenderRule rule;
  PatternKind kind = PatternKind::exact;
  std::string mailbox;  // the mailbox's address
  UnixTime updated_at = 0;
};

enum class PairCodeState {
  live,     // may still be redeemed
  used,     // redeemed by a pair.request
  expired,  // its time ran out unused
  revoked,  // an operator revoked it
};
inline constexpr NameTable<PairCodeState, 4> kPairCodeStateNames{{{"live", PairCodeState::live},
                                                                  {"used", PairCodeState::used},
                                                                  {"expired", PairCodeState::expired},
                                                                  {"revoked", PairCodeState::revoked}}};
constexpr std::string_view to_string(PairCodeState state) noexcept { return name_of(kPairCodeStateNames, state); }

// A pair code as `pair list` shows it: never the code (the store does not have it).
struct PairCodeEntry {
  std::int64_t id = 0;
  std::int64_t mailbox_id = 0;
  std::string mailbox;
  ContextRules rules;
  UnixTime created_at = 0;
  std::string created_by;
  UnixTime expires_at = 0;
  std::optional<UnixTime> consumed_at;
  std::string consumed_by;
  std::optional<UnixTime> revoked_at;
  std::string note;
  std::string address;  // the agent address it is bound to; "" = any the mailbox row protects
  std::string code_hash;  // hash_pair_code(code): what export/import carry, never the code
  PairCodeState state(UnixTime now) const noexcept;
};

struct AuditEntry {
  std::int64_t id = 0;
  AuditRecord record;       // record.verdict holds the row's verdict when this release knows its name
  std::string verdict;      // the verdict as stored: a name a newer release wrote (during a rolling
                            // upgrade) is shown as it is, never refused as a corrupt row
  std::optional<std::string> rule_pattern;  // the rule's pattern when the row was written
  std::optional<std::string> rule_origin;
};

struct AuditFilter {
  std::optional<UnixTime> since;        // at >= since
  std::optional<std::string> mailbox;   // recipient: an address, or "@domain" for all of a domain
  std::optional<std::string> sender;    // header or envelope From: an address, or "@domain"
  std::optional<std::string> verdict;   // exact verdict name (kAuditVerdictNames); unknown: no rows
  std::optional<std::string> task_id;   // exact X-AAMP-TaskId
  std::int64_t limit = 0;               // the most recent `limit` rows; 0 = all
};

// A reply in the outbox (docs/replies.md): waiting to be sent, sent, or given up.
enum class OutboxState {
  pending,    // not sent yet; the worker sends it when due
  sent,       // the MTA accepted it
  abandoned,  // the worker gave up (attempts, age, a permanent refusal) or an operator dropped it
};
inline constexpr NameTable<OutboxState, 3> kOutboxStateNames{{{"pending", OutboxState::pending},
                                                              {"sent", OutboxState::sent},
                                                              {"abandoned", OutboxState::abandoned}}};
constexpr std::string_view to_string(OutboxState state) noexcept { return name_of(kOutboxStateNames, state); }

struct OutboxEntry {
  OutboxReply reply;
  std::optional<UnixTime> sent_at;
  std::optional<UnixTime> abandoned_at;
  OutboxState state() const noexcept {
    return sent_at ? OutboxState::sent : abandoned_at ? OutboxState::abandoned : OutboxState::pending;
  }
};

// What prune_before() removed.
struct PruneCounts {
  std::int64_t audit = 0;   // audit rows
  std::int64_t outbox = 0;  // sent or abandoned outbox rows
};

// Rows removed per write transaction by prune_before(): each batch holds the write lock
// only briefly, so the milter's own writes go on between batches.
inline constexpr int kPruneBatch = 500;

// Deletes the audit rows taken before `before` and the outbox rows sent or abandoned
// before it, never a pending reply; in write transactions of at most `batch` rows each,
// until none is left. Several processes (hosts sharing a PostgreSQL database) may run it
// at once: each row goes once, the counts of all of them add up to what was removed.
// The daemon (AuditRetention) and `aampctl audit prune` both run this. Throws StoreError.
PruneCounts prune_before(Connection& conn, UnixTime before, int batch = kPruneBatch);

// What prune_registry() removed.
struct RegistryPruneCounts {
  std::int64_t threads = 0;     // thread registry entries
  std::int64_t deliveries = 0;  // delivered Message-IDs (per recipient)
};

// Deletes the thread registry entries and the delivered Message-IDs whose expires_at is
// before `now` (the later of a dispatch's Expires-At and its recording + ThreadRetention),
// in write transactions of at most `batch` rows each, like prune_before(). The daemon runs
// it on every pass of its pruner, whatever AuditRetention says. Throws StoreError.
RegistryPruneCounts prune_registry(Connection& conn, UnixTime now, int batch = kPruneBatch);

// A lockout of pair attempts: on one mailbox, or on one requester at every mailbox.
struct LockoutEntry {
  std::string mailbox;    // the locked mailbox's address; "" for a requester lockout
  std::string requester;  // the locked requester; "" for a mailbox lockout
  UnixTime locked_at = 0;
  UnixTime until = 0;     // pair.requests are refused while now < until
  std::int64_t failures = 0;
};

// All policy, as `aampctl export` writes it and `aampctl import` reads it: mailboxes, sender
// rules, live pair codes (hashes), active lockouts. No ids (a database hands out its own),
// no audit rows, no outbox. export_policy() sorts every list bytewise by its natural key, so
// the same policy gives the same snapshot on either engine.
struct PolicySnapshot {
  std::vector<MailboxEntry> mailboxes;   // by address
  std::vector<RuleEntry> rules;          // by mailbox, pattern, origin, context
  std::vector<PairCodeEntry> pair_codes; // by code hash; live ones only
  std::vector<LockoutEntry> lockouts;    // mailbox lockouts by address, then requesters; active ones only
};

// What import_policy() did with the rows of one kind.
struct ImportCounts {
  std::int64_t added = 0;      // not in the database: inserted
  std::int64_t updated = 0;    // in the database with other values: now as the snapshot says
  std::int64_t unchanged = 0;  // in the database as the snapshot says
  std::int64_t kept = 0;       // in the database with other values that the database keeps (see import_policy)
};
struct ImportSummary {
  ImportCounts mailboxes, rules, pair_codes, lockouts;
};

struct AdminOptions {
  bool create = false;   // create the file when missing (aampctl init)
  bool migrate = false;  // apply pending migrations (init, migrate); else require current
  std::chrono::milliseconds busy_timeout{5000};
};

class PolicyAdmin {
 public:
  // `database`: a SQLite path or a PostgreSQL connection string (store/sql.hpp).
  explicit PolicyAdmin(const std::string& database, const AdminOptions& options = {});

  // What opening did to the schema (from == to unless options.migrate applied something).
  const MigrationResult& migration() const noexcept { return migration_; }
  // The database as messages name it (no password), and as given (to open it again).
  const std::string& path() const noexcept { return conn_->path(); }
  const std::string& database() const noexcept { return database_; }

  // --- mailboxes (address: "agent@example.com" or "@example.com", any case) ---------------
  std::int64_t add_mailbox(const ProtectedMailbox& mailbox, UnixTime now, const std::string& by,
                           const std::string& note = {});
  void update_mailbox(const std::string& address, const MailboxChange& change, UnixTime now);
  RemovedMailbox remove_mailbox(const std::string& address);
  std::vector<MailboxEntry> list_mailboxes();
  std::optional<MailboxEntry> mailbox(const std::string& address);  // the row with exactly this address

  // --- sender rules -----------------------------------------------------------------------
  // A configured rule for the mailbox with exactly this address. The pattern is parsed
  // (parse_sender_pattern) and stored canonical.
  RuleEntry allow_sender(const std::string& mailbox, const std::string& pattern, const ContextRules& context,
                         UnixTime now, const std::string& by, const std::string& note = {});
  // A rule as given (origin, created_at included), for tests and benchmarks.
  std::int64_t insert_rule(const SenderRule& rule);
  // Many rules in one transaction with one prepared statement (benchmark set-up).
  void insert_rules(std::int64_t count, const std::function<SenderRule(std::int64_t)>& make);
  std::vector<RuleEntry> list_rules(const std::optional<std::string>& mailbox = std::nullopt);
  RuleEntry remove_rule(std::int64_t id);  // returns what was removed

  // --- pair codes -------------------------------------------------------------------------
  // Stores hash_pair_code(code) only.
  // `address`: the agent address the code is bound to (the pairing URL's mailbox=);
  // "" = any address the mailbox row protects.
  std::int64_t add_pair_code(std::int64_t mailbox_id, std::string_view code, UnixTime now, UnixTime expires_at,
                             const ContextRules& rules, const std::string& by, const std::string& note = {},
                             const std::string& address = {});
  std::vector<PairCodeEntry> list_pair_codes(const std::optional<std::string>& mailbox = std::nullopt);
  // AdminError when unknown, used or revoked already.
  PairCodeEntry revoke_pair_code(std::int64_t id, UnixTime now);

  // --- audit and outbox -------------------------------------------------------------------
  // Matching rows oldest first (with a limit: the most recent `limit`, still oldest first).
  void audit(const AuditFilter& filter, const std::function<void(const AuditEntry&)>& row);
  std::vector<AuditEntry> audit(const AuditFilter& filter = {});
  // The thread registry's entries for `task_id`, every kind, by kind and peer.
  std::vector<ThreadEntry> threads(const std::string& task_id);
  std::int64_t enqueue_reply(const OutboxReply& reply, UnixTime now);

  // --- data lifecycle (store/admin_lifecycle.cpp) ----------------------------------------
  PruneCounts prune(UnixTime before) { return prune_before(*conn_, before); }
  // Oldest first; only replies in `state` when given.
  std::vector<OutboxEntry> list_outbox(const std::optional<OutboxState>& state = std::nullopt);
  std::optional<OutboxEntry> outbox_entry(std::int64_t id);
  // A pending or abandoned reply enqueued again: due at `now`, attempts 0, abandoned_at and
  // last_error cleared, created_at = `now` (its ReplyMaxAge starts again). AdminError when
  // the id is unknown or the reply was sent already.
  OutboxEntry retry_reply(std::int64_t id, UnixTime now);
  // A pending reply given up by an operator: abandoned at `now` with last_error
  // "dropped by BY", and an audit row (reply-abandoned) that says so. AdminError when the id
  // is unknown or the reply is no longer pending (sent or abandoned rows are removed by
  // pruning, never by hand: the trail stays whole).
  OutboxEntry drop_reply(std::int64_t id, UnixTime now, const std::string& by);
  // A consistent copy of a SQLite database while it is in use (VACUUM INTO), made mode 0600
  // and moved into place only when complete. An existing `file` is replaced only with
  // `replace` (and never when it is the database itself). AdminError on PostgreSQL (use
  // pg_dump), for an existing file without `replace`, or when the copy cannot be written.
  void backup(const std::string& file, bool replace);

  // --- moving policy between databases (docs/cli.md, "export and import") -----------------
  // One read snapshot: every mailbox and rule, pair codes live at `now`, lockouts active at `now`.
  PolicySnapshot export_policy(UnixTime now);
  // Writes `snapshot` in one transaction, keyed by natural keys; nothing is ever deleted.
  // Mailboxes (by address): the snapshot wins, the row becomes what it says. Rules (by
  // mailbox, pattern, origin, context; a paired rule by mailbox and requester, as the
  // database holds one per requester): added when absent, else the snapshot's context,
  // times and note win. Pair codes (by hash): added when absent, else the database's row is
  // kept (a code used or revoked there is never revived). Lockouts (by mailbox or
  // requester): the later `until` wins. Importing the same snapshot twice changes nothing
  // the second time. AdminError (nothing written) for a row that names a mailbox neither the
  // snapshot nor the database has, or two rows with one key.
  ImportSummary import_policy(const PolicySnapshot& snapshot);

 private:
  std::optional<MailboxEntry> mailbox_locked(const std::string& address);
  std::optional<RuleEntry> rule(std::int64_t id);
  std::optional<PairCodeEntry> pair_code(std::int64_t id);
  void import_rule(const RuleEntry& rule, std::int64_t mailbox_id, ImportCounts& counts);
  void import_code(const PairCodeEntry& code, std::int64_t mailbox_id, ImportCounts& counts);
  void import_lockout(const LockoutEntry& lockout, std::optional<std::int64_t> mailbox_id, ImportCounts& counts);

  std::string database_;
  std::unique_ptr<Connection> conn_;
  MigrationResult migration_;
};

// "agent@example.com" or "@example.com" (also "*@example.com"), canonical; AdminError for
// anything else (wildcards, empty, malformed).
std::string parse_mailbox_address(const std::string& text);

}  // namespace aamp::store
