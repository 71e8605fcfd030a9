// memory_store.hpp — an in-memory Store and Outbox for unit tests of the engine and the
// reply worker, with the same semantics as store/sqlite_store (tests/unit/store_contract_test
// runs one suite against both), plus the admin calls tests need to set the scene and look
// at the result, and fault injection (fail_next). No SQLite here.
// Thread-safe: every call takes one mutex. `effects` callbacks run under that mutex and
// must not call back into the store (the SQLite store would deadlock on its own write lock).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/sender_pattern.hpp"
#include "policy/store.hpp"

namespace aamp::test {

// A pair code as the store keeps it: only the hash of the code.
struct PairCodeRow {
  std::int64_t id = 0;
  std::int64_t mailbox_id = 0;
  std::string code_hash;  // hash_pair_code(code)
  UnixTime created_at = 0;
  UnixTime expires_at = 0;
  std::optional<UnixTime> consumed_at;
  std::string consumed_by;  // the requester that redeemed it
  std::optional<UnixTime> revoked_at;
  ContextRules rules;
  std::string address;  // the agent address it was issued for; "" = any the row protects
};

// One outbox row: the reply and its delivery state.
struct OutboxRow {
  OutboxReply reply;
  std::optional<UnixTime> sent_at;
  std::optional<UnixTime> abandoned_at;
};

struct PairFailureRow {
  std::int64_t mailbox_id = 0;
  std::string requester;
  UnixTime at = 0;
};

class MemoryStore final : public Store, public Outbox {
 public:
  // --- Store -------------------------------------------------------------------------
  std::optional<ProtectedMailbox> find_mailbox(std::string_view recipient) override;
  std::vector<SenderRule> matching_rules(std::int64_t mailbox_id, std::string_view sender) override;
  // Fault points (fail_next): "record_audit" when it writes audit rows, then
  // "record_registry" when it writes registry entries; a fault writes nothing.
  void record_message(const MessageWrites& writes) override;
  PairRedemption redeem_pair_code(const PairAttempt& attempt,
                                  const std::function<PairEffects(const PairCheck&)>& effects) override;
  PairCheck peek_pair_code(const PairAttempt& attempt) override;
  RegistryView registry_view(std::string_view recipient, std::string_view task_id,
                             std::string_view message_id) override;
  std::optional<OutboxReply> queued_reply(std::string_view message_id) override;

  // --- Outbox ------------------------------------------------------------------------
  std::vector<OutboxReply> due_replies(UnixTime now, int limit) override;
  OutboxBacklog backlog() override;
  bool claim(std::int64_t id, UnixTime now, UnixTime until) override;
  void release(std::int64_t id, UnixTime due_at) override;
  void mark_sent(std::int64_t id, UnixTime now) override;
  void mark_failed(std::int64_t id, UnixTime next_attempt_at, const std::string& error) override;
  void mark_abandoned(std::int64_t id, UnixTime now, const std::string& error) override;

  // --- Admin (what aampctl does on the SQLite store) ----------------------------------
  // The address is normalised ("Agent@Example.com" -> "agent@example.com"); a duplicate
  // address throws StoreError(io). Returns the new id.
  std::int64_t add_mailbox(ProtectedMailbox mailbox);
  // The pattern is parsed and canonicalised (parse_sender_pattern; std::invalid_argument
  // when malformed); an unknown mailbox or a second paired rule for one pattern throws
  // StoreError(io). created_at is kept as given. Returns the new id.
  std::int64_t add_rule(SenderRule rule);
  // Stores hash_pair_code(code) only. An unknown mailbox throws StoreError(io).
  // `address`: the agent address the code is bound to ("" = any the mailbox row protects).
  std::int64_t add_pair_code(std::int64_t mailbox_id, std::string_view code, UnixTime expires_at,
                             ContextRules rules = {}, UnixTime created_at = 0, std::string_view address = {});
  // False when there is no such live code (unknown, consumed or revoked already).
  bool revoke_pair_code(std::int64_t id, UnixTime now);
  // Removing a mailbox removes its rules, codes, failures and lockout; audit rows stay.
  bool remove_mailbox(std::int64_t id);
  bool remove_rule(std::int64_t id);
  // Inserts an outbox row directly (the worker's tests); id and defaults as in redeem.
  std::int64_t enqueue_reply(OutboxReply reply);

  // --- Inspection ---------------------------------------------------------------------
  std::vector<ProtectedMailbox> mailboxes() const;
  std::vector<SenderRule> rules() const;  // every rule, by id
  std::vector<PairCodeRow> pair_codes() const;
  std::vector<PairFailureRow> pair_failures() const;
  // Active or past lockouts: scope "mailbox:<id>" or "requester:<address>" -> until.
  std::map<std::string, UnixTime> lockouts() const;
  std::vector<AuditRecord> audit() const;
  std::vector<OutboxRow> outbox() const;
  std::vector<ThreadEntry> threads() const;
  // How many times a Store/Outbox method (by name, e.g. "record_audit") was called,
  // counting calls that failed.
  int calls(std::string_view operation) const;

  // --- Fault injection ---------------------------------------------------------------
  // The next `count` calls of `operation` (a Store/Outbox method name; "" = any of them)
  // throw StoreError(kind) before touching any state.
  void fail_next(StoreErrorKind kind, std::string_view operation = "", int count = 1);
  // Every call throws StoreError(kind) until cleared with std::nullopt.
  void fail_always(std::optional<StoreErrorKind> kind);

 private:
  class Ledger;  // policy/pairing.hpp's reads and writes on this store; caller holds mu_
  void enter(std::string_view operation);  // counts and maybe throws; caller holds mu_
  void check_unique_message_id(const std::string& message_id) const;  // caller holds mu_
  std::int64_t enqueue_locked(OutboxReply reply, UnixTime now);           // caller holds mu_

  mutable std::mutex mu_;
  std::int64_t next_id_ = 1;
  std::vector<ProtectedMailbox> mailboxes_;
  struct RuleRow {
    SenderRule rule;
    PatternKind kind;  // a paired rule is exact even when its requester contains '*'
  };
  std::vector<RuleRow> rules_;
  std::vector<PairCodeRow> codes_;
  std::vector<PairFailureRow> failures_;
  std::map<std::string, UnixTime> lockouts_;
  std::vector<AuditRecord> audit_;
  std::vector<OutboxRow> outbox_;
  std::vector<ThreadEntry> threads_;
  std::map<std::pair<std::string, std::string>, UnixTime, std::less<>> deliveries_;  // (message id, recipient)
  std::map<std::string, int, std::less<>> calls_;
  struct Fault {
    StoreErrorKind kind;
    std::string operation;
    int remaining;
  };
  std::vector<Fault> faults_;
  std::optional<StoreErrorKind> always_;
};

}  // namespace aamp::test
