// store.hpp — the state the engine enforces, as an interface: protected mailboxes, sender
// rules, pair codes, the audit trail and the reply outbox. The policy layer calls it; it
// knows nothing of how that state is kept (store/sql_store.* keeps it in SQLite or PostgreSQL,
// tests/support/memory_store.* in memory). Implementations are safe for concurrent use
// from many threads; every failure to read or write state throws StoreError.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "policy/aamp_message.hpp"
#include "policy/audit_verdict.hpp"
#include "policy/clock.hpp"
#include "policy/intent.hpp"
#include "policy/names.hpp"

namespace aamp {

enum class StoreErrorKind {
  unavailable,  // cannot open, missing file, permission denied
  busy,         // locked by another writer for longer than the busy timeout
  corrupt,      // not a database, or a failed integrity check
  full,         // disk or quota full
  schema,       // the database is older or newer than this program understands
  io,           // anything else SQLite or the OS reported
};
// The kind label of aamp_store_errors_total.
inline constexpr NameTable<StoreErrorKind, 6> kStoreErrorKindNames{{{"unavailable", StoreErrorKind::unavailable},
                                                                    {"busy", StoreErrorKind::busy},
                                                                    {"corrupt", StoreErrorKind::corrupt},
                                                                    {"full", StoreErrorKind::full},
                                                                    {"schema", StoreErrorKind::schema},
                                                                    {"io", StoreErrorKind::io}}};
constexpr std::string_view to_string(StoreErrorKind k) noexcept { return name_of(kStoreErrorKindNames, k); }

class StoreError : public std::runtime_error {
 public:
  StoreError(StoreErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  StoreErrorKind kind() const noexcept { return kind_; }

 private:
  StoreErrorKind kind_;
};

enum class MailboxMode {
  enforce,  // decide and act on the decision
  report,   // decide, log and audit; deliver everything
  off,      // no enforcement for this mailbox
};
inline constexpr NameTable<MailboxMode, 3> kMailboxModeNames{
    {{"enforce", MailboxMode::enforce}, {"report", MailboxMode::report}, {"off", MailboxMode::off}}};
constexpr std::string_view to_string(MailboxMode mode) noexcept { return name_of(kMailboxModeNames, mode); }

// The trust bases a sender may show (brief §3). A mailbox accepts any one of its set.
enum TrustBasis : unsigned {
  trust_auth = 1u << 0,      // SMTP AUTH, login allowed to use the From address
  trust_internal = 1u << 1,  // client address in InternalHosts
  trust_authres = 1u << 2,   // dkim/dmarc pass from a trusted authserv-id, aligned to From
};
// The bases in the order lists show them; trust.hpp reads and writes the list text.
inline constexpr NameTable<TrustBasis, 3> kTrustBasisNames{
    {{"auth", trust_auth}, {"internal", trust_internal}, {"authres", trust_authres}}};
using TrustSet = unsigned;  // bitwise or of TrustBasis; 0 = no trust required
inline constexpr TrustSet kAnyTrust = [] {
  TrustSet all = 0;
  for (const auto& n : kTrustBasisNames) all |= n.value;
  return all;
}();

// What becomes of an answer in a thread the registry has never seen (UnknownThreads).
enum class UnknownThreads {
  allow,   // delivered; the audit says the thread was unknown
  refuse,  // refused as not bound to any thread this MTA saw (550 5.7.1)
};
inline constexpr NameTable<UnknownThreads, 2> kUnknownThreadsNames{
    {{"allow", UnknownThreads::allow}, {"refuse", UnknownThreads::refuse}}};
constexpr std::string_view to_string(UnknownThreads u) noexcept { return name_of(kUnknownThreadsNames, u); }

struct ProtectedMailbox {
  std::int64_t id = 0;
  std::string address;  // "agent@example.com", or "@example.com" for a whole domain
  MailboxMode mode = MailboxMode::enforce;
  std::vector<Intent> guarded_intents{Intent::task_dispatch, Intent::task_cancel, Intent::card_query};
  TrustSet trust = kAnyTrust;
  // Thread binding for this mailbox (ThreadBinding's enforce/report/off, UnknownThreads);
  // nullopt: the configuration's global setting.
  std::optional<MailboxMode> thread_binding = std::nullopt;
  std::optional<UnknownThreads> unknown_threads = std::nullopt;
};

// The kind of conversation a registry entry binds (policy/thread_binding.hpp).
enum class ThreadKind {
  task,  // a task.dispatch: initiator = dispatcher, peer = agent
  pair,  // a pair.request: initiator = requester, peer = the mailbox asked
  card,  // a card.query: initiator = who asked, peer = the mailbox asked
};
inline constexpr NameTable<ThreadKind, 3> kThreadKindNames{
    {{"task", ThreadKind::task}, {"pair", ThreadKind::pair}, {"card", ThreadKind::card}}};
constexpr std::string_view to_string(ThreadKind k) noexcept { return name_of(kThreadKindNames, k); }

// One entry of the thread registry: who started which thread with whom. Addresses lower case.
struct ThreadEntry {
  ThreadKind kind = ThreadKind::task;
  std::string task_id;
  std::string initiator;
  std::string peer;
  UnixTime created_at = 0;
  UnixTime expires_at = 0;  // pruned after this
};

// A message delivered to a recipient, remembered until expires_at (each message once).
struct DeliveryEntry {
  std::string message_id;
  std::string recipient;
  UnixTime at = 0;
  UnixTime expires_at = 0;  // pruned after this
};

// What the registry holds for one recipient of a message (Store::registry_view): the
// threads with the message's TaskId that the recipient is a party of — as the peer (the
// mailbox asked) or as the initiator (it asked) — and when the message was delivered there.
struct RegistryView {
  std::vector<ThreadEntry> threads;
  std::optional<UnixTime> delivered_at;

  // The entry of `kind` whose peer is `recipient` (the first initiator there), or nullopt.
  std::optional<ThreadEntry> at(ThreadKind kind, std::string_view recipient) const;
  // The entries of `kind` that `recipient` started, one per peer, by peer.
  std::vector<ThreadEntry> started_by(ThreadKind kind, std::string_view recipient) const;
};

// What the registry learns from one message (Store::record_message).
struct RegistryWrites {
  std::vector<ThreadEntry> threads;
  std::vector<DeliveryEntry> deliveries;
  bool empty() const noexcept { return threads.empty() && deliveries.empty(); }
};

enum class RuleOrigin {
  configured,  // written by an operator (aampctl sender allow)
  paired,      // written by a successful pair.request
};
inline constexpr NameTable<RuleOrigin, 2> kRuleOriginNames{
    {{"configured", RuleOrigin::configured}, {"paired", RuleOrigin::paired}}};
constexpr std::string_view to_string(RuleOrigin origin) noexcept { return name_of(kRuleOriginNames, origin); }

struct SenderRule {
  std::int64_t id = 0;
  std::int64_t mailbox_id = 0;
  std::string pattern;   // "alice@x.com", "@x.com", "*@x.com", "*"
  ContextRules context;  // empty: any dispatch context
  RuleOrigin origin = RuleOrigin::configured;
  UnixTime created_at = 0;
  std::string created_by;
  std::string note;
};

// One row per decision per protected recipient. Never holds a pair code.
struct AuditRecord {
  UnixTime at = 0;
  std::string message_id;  // the MTA's queue id, or ours
  std::string client_addr;
  std::string auth_user;
  std::string envelope_from;
  std::string header_from;
  std::string recipient;
  std::string intent;
  std::string task_id;
  AuditVerdict verdict = AuditVerdict::allow;
  std::string reason;
  std::optional<std::int64_t> rule_id;
};

// What one decided message writes (Store::record_message): the audit row of each protected
// recipient and what the registry learns, committed together or not at all.
struct MessageWrites {
  std::vector<AuditRecord> audit;
  RegistryWrites registry;
  bool empty() const noexcept { return audit.empty() && registry.empty(); }
};

// A pair.respond waiting in the outbox. Everything needed to build the mail again
// identically: a resend carries the same Message-ID.
struct OutboxReply {
  std::int64_t id = 0;
  std::string message_id;  // "<...>", chosen at enqueue time
  std::string from;        // the agent mailbox the request was sent to
  std::string to;          // the requester
  std::string task_id;
  TaskStatus status = TaskStatus::completed;
  std::string error_msg;   // set when rejected; printable ASCII, no CR/LF
  std::string in_reply_to; // the request's Message-ID, "" when it had none
  UnixTime created_at = 0;
  int attempts = 0;
  UnixTime next_attempt_at = 0;
  std::string last_error;
};

enum class PairOutcome {
  completed,     // code known, for this mailbox, unexpired, unconsumed: now consumed
  unknown_code,  // no such code for this mailbox
  expired,       // the code's time ran out
  already_used,  // the code was consumed before
  revoked,       // an operator revoked the code
  locked_out,    // too many wrong codes lately for this mailbox or requester
};
inline constexpr NameTable<PairOutcome, 6> kPairOutcomeNames{{{"completed", PairOutcome::completed},
                                                              {"unknown-code", PairOutcome::unknown_code},
                                                              {"expired", PairOutcome::expired},
                                                              {"already-used", PairOutcome::already_used},
                                                              {"revoked", PairOutcome::revoked},
                                                              {"locked-out", PairOutcome::locked_out}}};
constexpr std::string_view to_string(PairOutcome outcome) noexcept { return name_of(kPairOutcomeNames, outcome); }

struct PairLimits {
  int max_failures = 5;       // wrong codes within `window` that trigger a lockout
  UnixTime window = 15 * 60;  // seconds
  UnixTime lockout = 15 * 60; // cool-down, seconds
};

struct PairAttempt {
  std::int64_t mailbox_id = 0;
  std::string requester;  // the From address, lower-case
  std::string code;       // clear text, compared against the stored hash; never stored
  UnixTime now = 0;
  PairLimits limits;
  std::string recipient;  // the address the request was sent to, lower-case: a code issued
                          // for another address of a domain mailbox is unknown here
};

// What the store found, handed to the engine's effects callback inside the transaction.
struct PairCheck {
  PairOutcome outcome = PairOutcome::unknown_code;
  ContextRules issued_rules;  // the rules the operator attached to the code
  UnixTime locked_until = 0;  // with locked_out
};

// What the engine wants written in the same transaction.
struct PairEffects {
  ContextRules rules_to_grant;        // for completed: the paired rule's context rules
  AuditRecord audit;                  // rule_id is filled in by the store
  std::optional<OutboxReply> reply;   // enqueued when set
};

struct PairRedemption {
  PairCheck check;
  std::optional<std::int64_t> rule_id;  // the paired rule added or updated
};

class Store {
 public:
  virtual ~Store() = default;

  // The protection for a recipient: its exact address wins over its domain; nullopt when
  // neither is protected. `recipient` is an addr-spec, any case.
  virtual std::optional<ProtectedMailbox> find_mailbox(std::string_view recipient) = 0;

  // The sender rules of a mailbox whose pattern matches `sender` (exact, @domain,
  // wildcard), configured and paired alike, oldest first.
  virtual std::vector<SenderRule> matching_rules(std::int64_t mailbox_id, std::string_view sender) = 0;

  // Writes what one message's decision leaves, all of it or, when it throws, none: its
  // audit rows and its registry entries (a message tempfailed half-recorded would find its
  // own deliveries on the retry and be dropped as a duplicate). Committed before it
  // returns. A thread is recorded unless its (kind, peer, task_id) is taken; when taken by
  // the same initiator, its expiry moves to the later of the two. A delivery already
  // recorded for its (message_id, recipient) changes nothing.
  virtual void record_message(const MessageWrites& writes) = 0;
  // One audit row alone (the reply worker's), or registry entries alone.
  void record_audit(const AuditRecord& record) { record_message({{record}, {}}); }
  void record_registry(const RegistryWrites& writes) { record_message({{}, writes}); }

  // Checks and redeems a pair code in ONE transaction: lockout check, code lookup
  // (constant-time compare of hashes), consume, upsert of the requester's paired rule,
  // failure counting and lockout, the audit row and the outbox reply from `effects`.
  // Exactly one of several concurrent attempts with the same code completes.
  virtual PairRedemption redeem_pair_code(const PairAttempt& attempt,
                                          const std::function<PairEffects(const PairCheck&)>& effects) = 0;

  // What redeem_pair_code would find now (lockout, then the code's state), changing
  // nothing: no consumption, no failure counted. For report mode and `aampctl check`.
  virtual PairCheck peek_pair_code(const PairAttempt& attempt) = 0;

  // The thread registry, as one recipient (lower case) of a message sees it: every thread
  // with `task_id` it is the peer or the initiator of, and when `message_id` (as the engine
  // spells it) was first delivered to it. One read: what thread binding and the duplicate
  // check of one recipient need.
  virtual RegistryView registry_view(std::string_view recipient, std::string_view task_id,
                                     std::string_view message_id) = 0;
  // Parts of a view: the entry of `kind` at `peer` for `task_id`; the entries of `kind`
  // that `initiator` started with `task_id`; when `message_id` reached `recipient`.
  std::optional<ThreadEntry> thread_at(ThreadKind kind, std::string_view peer, std::string_view task_id) {
    return registry_view(peer, task_id, {}).at(kind, peer);
  }
  std::vector<ThreadEntry> threads_started_by(ThreadKind kind, std::string_view initiator, std::string_view task_id) {
    return registry_view(initiator, task_id, {}).started_by(kind, initiator);
  }
  std::optional<UnixTime> delivered_at(std::string_view message_id, std::string_view recipient) {
    return registry_view(recipient, {}, message_id).delivered_at;
  }
  // The pair.respond this filter queued with `message_id` (sent or not), or nullopt: how
  // the engine knows its own reply when the reply passes back through the MTA.
  virtual std::optional<OutboxReply> queued_reply(std::string_view message_id) = 0;
};

// What the outbox holds unsent (neither sent nor abandoned), for the metrics.
struct OutboxBacklog {
  std::int64_t depth = 0;
  UnixTime oldest_created_at = 0;  // 0 when empty
};

// The durable queue the reply worker drains. Separate from Store: the engine only enqueues
// (through redeem_pair_code); the worker claims, sends and marks.
class Outbox {
 public:
  virtual ~Outbox() = default;
  // Replies due at `now`, oldest first, at most `limit`.
  virtual std::vector<OutboxReply> due_replies(UnixTime now, int limit) = 0;
  // Takes a due reply for sending: when it is still unsent, not abandoned and due at
  // `now`, its next attempt moves to `until` (the lease) and the call returns true; false
  // when another worker (another thread, process or MX host on the same database) took it
  // first, or it is no longer due. A worker sends only what it claimed; a worker that dies
  // after claiming leaves the reply to be sent by any worker once the lease ends.
  virtual bool claim(std::int64_t id, UnixTime now, UnixTime until) = 0;
  // Gives a claimed, unsent reply back: due again at `due_at` (what it was before the claim).
  virtual void release(std::int64_t id, UnixTime due_at) = 0;
  virtual void mark_sent(std::int64_t id, UnixTime now) = 0;
  virtual void mark_failed(std::int64_t id, UnixTime next_attempt_at, const std::string& error) = 0;
  // Gives up on a reply (too many attempts); it stays for the audit with the error.
  virtual void mark_abandoned(std::int64_t id, UnixTime now, const std::string& error) = 0;
  // How many replies wait, and since when: one aggregate query (the daemon's /metrics and
  // /healthz ask it at every scrape).
  virtual OutboxBacklog backlog() = 0;
};

}  // namespace aamp
