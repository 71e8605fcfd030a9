// pairing.cpp — see pairing.hpp.
#include "policy/pairing.hpp"

#include "policy/pair_code.hpp"
#include "policy/sender_pattern.hpp"

namespace aamp {

std::string pair_lookup_hash(const PairAttempt& attempt) { return hash_pair_code(attempt.code); }

UnixTime failure_window_start(const PairAttempt& attempt) noexcept { return attempt.now - attempt.limits.window; }

namespace {

// (b) The code's state, once the lockout is ruled out.
PairOutcome code_state(const PairAttempt& attempt, const std::optional<StoredPairCode>& code, const std::string& hash) {
  // A hash match is confirmed in constant time; a code of another mailbox, or bound to
  // another address of a domain mailbox, is unknown here.
  if (!code || !same_hash(code->code_hash, hash) || code->mailbox_id != attempt.mailbox_id ||
      (!code->address.empty() && code->address != normalize_address(attempt.recipient)))
    return PairOutcome::unknown_code;
  if (code->revoked) return PairOutcome::revoked;
  if (code->consumed) return PairOutcome::already_used;
  if (code->expires_at <= attempt.now) return PairOutcome::expired;
  return PairOutcome::completed;
}

// (d) A failure reaches the limit when it is the max_failures-th in the window.
std::optional<PairLockout> lockout_after(const PairAttempt& attempt, std::int64_t failures_before) {
  const std::int64_t failures = failures_before + 1;
  if (attempt.limits.max_failures <= 0 || failures < attempt.limits.max_failures) return std::nullopt;
  return PairLockout{attempt.now + attempt.limits.lockout, failures};
}

}  // namespace

PairPlan plan_pair_attempt(const PairAttempt& attempt, const PairReading& reading) {
  PairPlan plan;
  plan.requester = normalize_address(attempt.requester);
  // (a) An active lockout refuses the attempt without counting it.
  if (reading.locked_until > attempt.now) {
    plan.check.outcome = PairOutcome::locked_out;
    plan.check.locked_until = reading.locked_until;
    return plan;
  }
  plan.check.outcome = code_state(attempt, reading.code, pair_lookup_hash(attempt));
  if (plan.check.outcome != PairOutcome::unknown_code) plan.check.issued_rules = reading.code->rules;
  if (plan.check.outcome == PairOutcome::completed) {
    plan.consume_code = reading.code->id;
    plan.granted_by = "pair-code:" + std::to_string(reading.code->id);
    return plan;
  }
  plan.count_failure = true;
  plan.lock_mailbox = lockout_after(attempt, reading.mailbox_failures);
  plan.lock_requester = lockout_after(attempt, reading.requester_failures);
  return plan;
}

PairRedemption redeem_pair(PairLedger& ledger, const PairAttempt& attempt,
                           const std::function<PairEffects(const PairCheck&)>& effects) {
  const std::string requester = normalize_address(attempt.requester);
  PairReading reading = ledger.read_pair(attempt, requester, /*for_update=*/true);
  PairPlan plan = plan_pair_attempt(attempt, reading);
  // The consume is the statement that makes a code single-use: when another redeemer got
  // there first, the code is used, and the plan is made again from that fact.
  if (plan.consume_code && !ledger.consume_code(*plan.consume_code, attempt.now, plan.requester)) {
    reading.code->consumed = true;
    plan = plan_pair_attempt(attempt, reading);
  }

  PairEffects fx = effects(plan.check);  // may throw: the caller rolls back

  PairRedemption result;
  result.check = plan.check;
  if (plan.check.outcome == PairOutcome::completed) {
    result.rule_id = ledger.upsert_paired_rule(attempt.mailbox_id, plan.requester, fx.rules_to_grant, attempt.now,
                                               plan.granted_by);
    fx.audit.rule_id = result.rule_id;
  }
  if (plan.count_failure) {
    ledger.record_failure(attempt.mailbox_id, plan.requester, attempt.now, plan.check.outcome,
                          failure_window_start(attempt));
    if (plan.lock_mailbox) ledger.lock_mailbox(attempt.mailbox_id, attempt.now, *plan.lock_mailbox);
    if (plan.lock_requester) ledger.lock_requester(plan.requester, attempt.now, *plan.lock_requester);
  }
  ledger.insert_audit(fx.audit);
  if (fx.reply) ledger.insert_reply(*fx.reply, attempt.now);
  return result;
}

PairCheck peek_pair(PairLedger& ledger, const PairAttempt& attempt) {
  const std::string requester = normalize_address(attempt.requester);
  return plan_pair_attempt(attempt, ledger.read_pair(attempt, requester, /*for_update=*/false)).check;
}

}  // namespace aamp
