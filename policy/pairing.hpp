// pairing.hpp — the pairing decision, written once for every store (brief §2; issue 12).
// A store opens its one redeeming transaction, reads what the decision needs (PairReading:
// the active lockout, the code row found by its hash, the failures counted in the window),
// asks plan_pair_attempt() what that means, and applies the plan's writes in the same
// transaction. redeem_pair() and peek_pair() run that sequence over a PairLedger, the small
// set of reads and writes a store provides; the memory, SQLite and PostgreSQL stores all
// go through them, so the lockout check, the code's state, the consume, the failure count
// and when a lockout starts exist here and nowhere else. Pure: no I/O but through the
// ledger; the ledger's calls happen inside the caller's transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "policy/store.hpp"

namespace aamp {

// A pair code row as a store keeps it (the hash, never the code).
struct StoredPairCode {
  std::int64_t id = 0;
  std::int64_t mailbox_id = 0;
  std::string code_hash;
  std::string address;  // the agent address it is bound to; "" = any the mailbox row protects
  ContextRules rules;   // the rules the operator attached
  UnixTime expires_at = 0;
  bool consumed = false;
  bool revoked = false;
};

// What a store read, inside the transaction, for one attempt.
struct PairReading {
  UnixTime locked_until = 0;  // the latest lockout of the mailbox or requester ending after now; 0 = none
  std::optional<StoredPairCode> code;  // the row whose code_hash equals pair_lookup_hash(attempt)
  std::int64_t mailbox_failures = 0;   // failures of the mailbox at > failure_window_start, before this one
  std::int64_t requester_failures = 0; // failures of the requester (any mailbox), same window
};

struct PairLockout {
  UnixTime until = 0;
  std::int64_t failures = 0;  // the count that triggered it, this attempt included
};

// What to write for one attempt, besides the engine's effects.
struct PairPlan {
  PairCheck check;
  std::string requester;                     // normalised: the key of failures, lockouts, the rule
  std::optional<std::int64_t> consume_code;  // completed: consume this code (one atomic statement)
  std::string granted_by;                    // completed: the paired rule's created_by, "pair-code:<id>"
  bool count_failure = false;                // a wrong code: record it (and prune the window)
  std::optional<PairLockout> lock_mailbox;   // the failure reaches the limit for the mailbox
  std::optional<PairLockout> lock_requester; // ... for the requester
};

// The hash a store looks the code up by.
std::string pair_lookup_hash(const PairAttempt& attempt);
// Failures at or before this instant no longer count (and may be pruned).
UnixTime failure_window_start(const PairAttempt& attempt) noexcept;

// The decision. `reading.code` must be the row found by pair_lookup_hash(attempt) (or none);
// it is confirmed here in constant time, and a row of another mailbox or bound to another
// address is an unknown code.
PairPlan plan_pair_attempt(const PairAttempt& attempt, const PairReading& reading);

// What a store does for redeem_pair()/peek_pair(), each call inside the store's one
// transaction. Errors throw StoreError; the store rolls the transaction back.
class PairLedger {
 public:
  virtual ~PairLedger() = default;
  // Lockout, code row and failure counts, as PairReading describes them. With
  // `for_update`, the rows the decision depends on are locked against concurrent
  // redeemers of the same mailbox or requester until the transaction ends (a store whose
  // transaction already excludes other writers may ignore it).
  virtual PairReading read_pair(const PairAttempt& attempt, const std::string& requester, bool for_update) = 0;
  // Consumes the code if it is still unconsumed, unrevoked and unexpired at `now`, in one
  // statement; false when it was not (another redeemer was first).
  virtual bool consume_code(std::int64_t code_id, UnixTime now, const std::string& requester) = 0;
  // Inserts or updates the one paired rule of (mailbox, requester); returns its id.
  virtual std::int64_t upsert_paired_rule(std::int64_t mailbox_id, const std::string& requester,
                                          const ContextRules& rules, UnixTime now, const std::string& by) = 0;
  // Prunes failures at or before `window_start`, records this one.
  virtual void record_failure(std::int64_t mailbox_id, const std::string& requester, UnixTime now,
                              PairOutcome outcome, UnixTime window_start) = 0;
  virtual void lock_mailbox(std::int64_t mailbox_id, UnixTime now, const PairLockout& lockout) = 0;
  virtual void lock_requester(const std::string& requester, UnixTime now, const PairLockout& lockout) = 0;
  virtual void insert_audit(const AuditRecord& record) = 0;
  virtual void insert_reply(const OutboxReply& reply, UnixTime now) = 0;
};

// Store::redeem_pair_code over a ledger, inside the caller's transaction: read (for
// update), plan, consume, the engine's effects, then the rule or the failure and
// lockouts, the audit row and the reply. An exception leaves the rollback to the caller.
PairRedemption redeem_pair(PairLedger& ledger, const PairAttempt& attempt,
                           const std::function<PairEffects(const PairCheck&)>& effects);

// Store::peek_pair_code over a ledger: what redeem_pair would find, writing nothing.
PairCheck peek_pair(PairLedger& ledger, const PairAttempt& attempt);

}  // namespace aamp
