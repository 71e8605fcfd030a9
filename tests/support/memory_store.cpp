// memory_store.cpp — see memory_store.hpp. Each method mirrors a statement or transaction
// of the real stores; the pairing decision is policy/pairing's, shared with them (the
// contract test runs the same cases against every store).
#include "tests/support/memory_store.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "policy/pair_code.hpp"
#include "policy/pairing.hpp"
#include "policy/sender_pattern.hpp"

namespace aamp::test {

namespace {

std::string mailbox_scope(std::int64_t id) { return "mailbox:" + std::to_string(id); }
std::string requester_scope(std::string_view requester) { return "requester:" + std::string(requester); }

bool older(const SenderRule& a, const SenderRule& b) {
  return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
}

}  // namespace

void MemoryStore::enter(std::string_view operation) {
  ++calls_[std::string(operation)];
  if (always_) throw StoreError(*always_, "injected failure in " + std::string(operation));
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!it->operation.empty() && it->operation != operation) continue;
    const StoreErrorKind kind = it->kind;
    if (--it->remaining <= 0) faults_.erase(it);
    throw StoreError(kind, "injected failure in " + std::string(operation));
  }
}

// --- Store ---------------------------------------------------------------------------

std::optional<ProtectedMailbox> MemoryStore::find_mailbox(std::string_view recipient) {
  std::lock_guard lock(mu_);
  enter("find_mailbox");
  const std::string address = normalize_address(recipient);
  // append, not "@" + std::string(...): GCC 12 at -O3 reports a false -Wrestrict.
  const std::string domain = std::string("@").append(domain_of(address));
  const ProtectedMailbox* by_domain = nullptr;
  for (const auto& m : mailboxes_) {
    if (m.address == address) return m;
    if (m.address == domain && address.find('@') != std::string::npos) by_domain = &m;
  }
  if (by_domain != nullptr) return *by_domain;
  return std::nullopt;
}

std::vector<SenderRule> MemoryStore::matching_rules(std::int64_t mailbox_id, std::string_view sender) {
  std::lock_guard lock(mu_);
  enter("matching_rules");
  const std::string address = normalize_address(sender);
  std::vector<SenderRule> out;
  for (const auto& [r, kind] : rules_)
    if (r.mailbox_id == mailbox_id && matches(SenderPattern{kind, r.pattern}, address)) out.push_back(r);
  std::sort(out.begin(), out.end(), older);
  return out;
}

void MemoryStore::record_message(const MessageWrites& writes) {
  std::lock_guard lock(mu_);
  if (!writes.audit.empty()) enter("record_audit");
  if (!writes.registry.empty()) enter("record_registry");
  audit_.insert(audit_.end(), writes.audit.begin(), writes.audit.end());
  for (const auto& entry : writes.registry.threads) {
    const auto taken = std::find_if(threads_.begin(), threads_.end(), [&](const ThreadEntry& t) {
      return t.kind == entry.kind && t.peer == entry.peer && t.task_id == entry.task_id;
    });
    if (taken == threads_.end()) threads_.push_back(entry);
    else if (taken->initiator == entry.initiator) taken->expires_at = std::max(taken->expires_at, entry.expires_at);
  }
  for (const auto& d : writes.registry.deliveries) deliveries_.emplace(std::pair(d.message_id, d.recipient), d.at);
}

// The pairing transaction's reads and writes (policy/pairing.hpp makes the decision),
// under mu_. Writes go to the store at once; redeem_pair_code restores a copy of the
// state when anything throws, as the SQLite store rolls back.
class MemoryStore::Ledger final : public PairLedger {
 public:
  explicit Ledger(MemoryStore& s) : s_(s) {}

  PairReading read_pair(const PairAttempt& attempt, const std::string& requester, bool /*for_update*/) override {
    PairReading r;
    for (const auto& scope : {mailbox_scope(attempt.mailbox_id), requester_scope(requester)}) {
      const auto it = s_.lockouts_.find(scope);
      if (it != s_.lockouts_.end() && it->second > attempt.now) r.locked_until = std::max(r.locked_until, it->second);
    }
    const std::string hash = pair_lookup_hash(attempt);
    for (const auto& c : s_.codes_) {
      if (c.code_hash != hash) continue;
      r.code = StoredPairCode{c.id,         c.mailbox_id,           c.code_hash,           c.address,
                              c.rules,      c.expires_at,           c.consumed_at.has_value(), c.revoked_at.has_value()};
    }
    const UnixTime since = failure_window_start(attempt);
    for (const auto& f : s_.failures_) {
      if (f.at <= since) continue;
      if (f.mailbox_id == attempt.mailbox_id) ++r.mailbox_failures;
      if (f.requester == requester) ++r.requester_failures;
    }
    return r;
  }

  bool consume_code(std::int64_t code_id, UnixTime now, const std::string& requester) override {
    for (auto& c : s_.codes_) {
      if (c.id != code_id || c.consumed_at || c.revoked_at || c.expires_at <= now) continue;
      c.consumed_at = now;
      c.consumed_by = requester;
      return true;
    }
    return false;
  }

  std::int64_t upsert_paired_rule(std::int64_t mailbox_id, const std::string& requester, const ContextRules& rules,
                                  UnixTime now, const std::string& by) override {
    for (auto& row : s_.rules_) {
      if (row.rule.mailbox_id != mailbox_id || row.rule.origin != RuleOrigin::paired || row.rule.pattern != requester)
        continue;
      row.rule.context = rules;
      return row.rule.id;
    }
    SenderRule r;
    r.id = s_.next_id_++;
    r.mailbox_id = mailbox_id;
    r.pattern = requester;
    r.context = rules;
    r.origin = RuleOrigin::paired;
    r.created_at = now;
    r.created_by = by;
    s_.rules_.push_back({r, PatternKind::exact});
    return r.id;
  }

  void record_failure(std::int64_t mailbox_id, const std::string& requester, UnixTime now, PairOutcome /*outcome*/,
                      UnixTime window_start) override {
    std::erase_if(s_.failures_, [&](const PairFailureRow& f) { return f.at <= window_start; });
    s_.failures_.push_back({mailbox_id, requester, now});
  }

  void lock_mailbox(std::int64_t mailbox_id, UnixTime /*now*/, const PairLockout& l) override {
    s_.lockouts_[mailbox_scope(mailbox_id)] = l.until;
  }

  void lock_requester(const std::string& requester, UnixTime /*now*/, const PairLockout& l) override {
    s_.lockouts_[requester_scope(requester)] = l.until;
  }

  void insert_audit(const AuditRecord& record) override { s_.audit_.push_back(record); }
  void insert_reply(const OutboxReply& reply, UnixTime now) override { s_.enqueue_locked(reply, now); }

 private:
  MemoryStore& s_;
};

PairCheck MemoryStore::peek_pair_code(const PairAttempt& attempt) {
  std::lock_guard lock(mu_);
  enter("peek_pair_code");
  Ledger ledger(*this);
  return peek_pair(ledger, attempt);
}

RegistryView MemoryStore::registry_view(std::string_view recipient, std::string_view task_id,
                                       std::string_view message_id) {
  std::lock_guard lock(mu_);
  enter("registry_view");
  RegistryView view;
  for (const auto& t : threads_)
    if (t.task_id == task_id && (t.peer == recipient || t.initiator == recipient)) view.threads.push_back(t);
  const auto it = deliveries_.find(std::pair<std::string, std::string>(message_id, recipient));
  if (it != deliveries_.end()) view.delivered_at = it->second;
  return view;
}

std::optional<OutboxReply> MemoryStore::queued_reply(std::string_view message_id) {
  std::lock_guard lock(mu_);
  enter("queued_reply");
  for (const auto& row : outbox_)
    if (row.reply.message_id == message_id) return row.reply;
  return std::nullopt;
}

std::vector<ThreadEntry> MemoryStore::threads() const {
  std::lock_guard lock(mu_);
  return threads_;
}

PairRedemption MemoryStore::redeem_pair_code(const PairAttempt& attempt,
                                             const std::function<PairEffects(const PairCheck&)>& effects) {
  std::lock_guard lock(mu_);
  enter("redeem_pair_code");
  // The rollback: everything the ledger may write, restored when anything throws.
  auto saved = std::tuple(next_id_, rules_, codes_, failures_, lockouts_, audit_, outbox_);
  try {
    Ledger ledger(*this);
    return redeem_pair(ledger, attempt, effects);
  } catch (...) {
    std::tie(next_id_, rules_, codes_, failures_, lockouts_, audit_, outbox_) = std::move(saved);
    throw;
  }
}

// --- Outbox --------------------------------------------------------------------------

void MemoryStore::check_unique_message_id(const std::string& message_id) const {
  for (const auto& o : outbox_)
    if (o.reply.message_id == message_id)
      throw StoreError(StoreErrorKind::io, "outbox: duplicate Message-ID " + message_id);
}

std::int64_t MemoryStore::enqueue_locked(OutboxReply reply, UnixTime now) {
  check_unique_message_id(reply.message_id);
  reply.id = next_id_++;
  if (reply.created_at == 0) reply.created_at = now;
  if (reply.next_attempt_at == 0) reply.next_attempt_at = reply.created_at;
  outbox_.push_back({reply, std::nullopt, std::nullopt});
  return reply.id;
}

std::vector<OutboxReply> MemoryStore::due_replies(UnixTime now, int limit) {
  std::lock_guard lock(mu_);
  enter("due_replies");
  std::vector<const OutboxRow*> due;
  for (const auto& o : outbox_)
    if (!o.sent_at && !o.abandoned_at && o.reply.next_attempt_at <= now) due.push_back(&o);
  std::sort(due.begin(), due.end(), [](const OutboxRow* a, const OutboxRow* b) {
    return std::tie(a->reply.created_at, a->reply.id) < std::tie(b->reply.created_at, b->reply.id);
  });
  std::vector<OutboxReply> out;
  for (const auto* o : due) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(o->reply);
  }
  return out;
}

OutboxBacklog MemoryStore::backlog() {
  std::lock_guard lock(mu_);
  enter("backlog");
  OutboxBacklog b;
  for (const auto& o : outbox_) {
    if (o.sent_at || o.abandoned_at) continue;
    ++b.depth;
    if (b.oldest_created_at == 0 || o.reply.created_at < b.oldest_created_at) b.oldest_created_at = o.reply.created_at;
  }
  return b;
}

bool MemoryStore::claim(std::int64_t id, UnixTime now, UnixTime until) {
  std::lock_guard lock(mu_);
  enter("claim");
  for (auto& o : outbox_) {
    if (o.reply.id != id || o.sent_at || o.abandoned_at || o.reply.next_attempt_at > now) continue;
    o.reply.next_attempt_at = until;
    return true;
  }
  return false;
}

void MemoryStore::release(std::int64_t id, UnixTime due_at) {
  std::lock_guard lock(mu_);
  enter("release");
  for (auto& o : outbox_)
    if (o.reply.id == id && !o.sent_at && !o.abandoned_at) o.reply.next_attempt_at = due_at;
}

void MemoryStore::mark_sent(std::int64_t id, UnixTime now) {
  std::lock_guard lock(mu_);
  enter("mark_sent");
  for (auto& o : outbox_) {
    if (o.reply.id != id || o.sent_at || o.abandoned_at) continue;
    o.sent_at = now;
    ++o.reply.attempts;
  }
}

void MemoryStore::mark_failed(std::int64_t id, UnixTime next_attempt_at, const std::string& error) {
  std::lock_guard lock(mu_);
  enter("mark_failed");
  for (auto& o : outbox_) {
    if (o.reply.id != id || o.sent_at || o.abandoned_at) continue;
    ++o.reply.attempts;
    o.reply.next_attempt_at = next_attempt_at;
    o.reply.last_error = error;
  }
}

void MemoryStore::mark_abandoned(std::int64_t id, UnixTime now, const std::string& error) {
  std::lock_guard lock(mu_);
  enter("mark_abandoned");
  for (auto& o : outbox_) {
    if (o.reply.id != id || o.sent_at || o.abandoned_at) continue;
    o.abandoned_at = now;
    o.reply.last_error = error;
  }
}

// --- Admin ---------------------------------------------------------------------------

std::int64_t MemoryStore::add_mailbox(ProtectedMailbox mailbox) {
  std::lock_guard lock(mu_);
  mailbox.address = normalize_address(mailbox.address);
  for (const auto& m : mailboxes_)
    if (m.address == mailbox.address) throw StoreError(StoreErrorKind::io, "mailbox exists: " + mailbox.address);
  mailbox.id = next_id_++;
  mailboxes_.push_back(mailbox);
  return mailbox.id;
}

std::int64_t MemoryStore::add_rule(SenderRule rule) {
  std::lock_guard lock(mu_);
  const auto pattern = parse_sender_pattern(rule.pattern);
  if (!pattern) throw std::invalid_argument(pattern.error());
  // A paired rule names exactly its requester (as the SQLite store's CHECK demands).
  const bool paired = rule.origin == RuleOrigin::paired;
  rule.pattern = paired ? normalize_address(rule.pattern) : pattern->text;
  const PatternKind kind = paired ? PatternKind::exact : pattern->kind;
  if (std::none_of(mailboxes_.begin(), mailboxes_.end(), [&](const auto& m) { return m.id == rule.mailbox_id; }))
    throw StoreError(StoreErrorKind::io, "no mailbox " + std::to_string(rule.mailbox_id));
  if (paired)
    for (const auto& [r, k] : rules_)
      if (r.mailbox_id == rule.mailbox_id && r.origin == RuleOrigin::paired && r.pattern == rule.pattern)
        throw StoreError(StoreErrorKind::io, "a paired rule for " + rule.pattern + " exists");
  rule.id = next_id_++;
  rules_.push_back({rule, kind});
  return rule.id;
}

std::int64_t MemoryStore::add_pair_code(std::int64_t mailbox_id, std::string_view code, UnixTime expires_at,
                                        ContextRules rules, UnixTime created_at, std::string_view address) {
  std::lock_guard lock(mu_);
  if (std::none_of(mailboxes_.begin(), mailboxes_.end(), [&](const auto& m) { return m.id == mailbox_id; }))
    throw StoreError(StoreErrorKind::io, "no mailbox " + std::to_string(mailbox_id));
  PairCodeRow row;
  row.id = next_id_++;
  row.mailbox_id = mailbox_id;
  row.code_hash = hash_pair_code(code);
  for (const auto& c : codes_)
    if (c.code_hash == row.code_hash) throw StoreError(StoreErrorKind::io, "duplicate pair code");
  row.created_at = created_at;
  row.expires_at = expires_at;
  row.rules = std::move(rules);
  row.address = normalize_address(address);
  codes_.push_back(row);
  return row.id;
}

bool MemoryStore::revoke_pair_code(std::int64_t id, UnixTime now) {
  std::lock_guard lock(mu_);
  for (auto& c : codes_) {
    if (c.id != id || c.consumed_at || c.revoked_at) continue;
    c.revoked_at = now;
    return true;
  }
  return false;
}

bool MemoryStore::remove_mailbox(std::int64_t id) {
  std::lock_guard lock(mu_);
  const auto n = std::erase_if(mailboxes_, [&](const auto& m) { return m.id == id; });
  std::erase_if(rules_, [&](const RuleRow& r) { return r.rule.mailbox_id == id; });
  std::erase_if(codes_, [&](const auto& c) { return c.mailbox_id == id; });
  std::erase_if(failures_, [&](const auto& f) { return f.mailbox_id == id; });
  lockouts_.erase(mailbox_scope(id));
  return n > 0;
}

bool MemoryStore::remove_rule(std::int64_t id) {
  std::lock_guard lock(mu_);
  return std::erase_if(rules_, [&](const RuleRow& r) { return r.rule.id == id; }) > 0;
}

std::int64_t MemoryStore::enqueue_reply(OutboxReply reply) {
  std::lock_guard lock(mu_);
  const UnixTime now = reply.created_at;
  return enqueue_locked(std::move(reply), now);
}

// --- Inspection ----------------------------------------------------------------------

std::vector<ProtectedMailbox> MemoryStore::mailboxes() const {
  std::lock_guard lock(mu_);
  return mailboxes_;
}

std::vector<SenderRule> MemoryStore::rules() const {
  std::lock_guard lock(mu_);
  std::vector<SenderRule> out;
  for (const auto& row : rules_) out.push_back(row.rule);
  return out;
}

std::vector<PairCodeRow> MemoryStore::pair_codes() const {
  std::lock_guard lock(mu_);
  return codes_;
}

std::vector<PairFailureRow> MemoryStore::pair_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

std::map<std::string, UnixTime> MemoryStore::lockouts() const {
  std::lock_guard lock(mu_);
  return lockouts_;
}

std::vector<AuditRecord> MemoryStore::audit() const {
  std::lock_guard lock(mu_);
  return audit_;
}

std::vector<OutboxRow> MemoryStore::outbox() const {
  std::lock_guard lock(mu_);
  return outbox_;
}

int MemoryStore::calls(std::string_view operation) const {
  std::lock_guard lock(mu_);
  const auto it = calls_.find(operation);
  return it == calls_.end() ? 0 : it->second;
}

void MemoryStore::fail_next(StoreErrorKind kind, std::string_view operation, int count) {
  std::lock_guard lock(mu_);
  if (count > 0) faults_.push_back({kind, std::string(operation), count});
}

void MemoryStore::fail_always(std::optional<StoreErrorKind> kind) {
  std::lock_guard lock(mu_);
  always_ = kind;
}

}  // namespace aamp::test
