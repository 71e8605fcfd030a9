// engine.cpp — see engine.hpp. Two steps: judge each recipient on its own (protected? valid?
// trusted? allowed? a pairing?), then combine the outcomes into one Decision that the MTA
// can carry out at end of message (per-recipient refusals become smfi_delrcpt; the message
// is rejected or discarded when no recipient would be left, never emptied).
#include "policy/engine.hpp"

#include <algorithm>
#include <array>

#include "policy/encodings.hpp"
#include "policy/pair_code.hpp"
#include "policy/recipient.hpp"
#include "policy/reply_fields.hpp"
#include "policy/sender_pattern.hpp"
#include "policy/text.hpp"
#include "policy/text_safety.hpp"
#include "policy/thread_binding.hpp"
#include "policy/trust.hpp"
#include "policy/validator.hpp"

namespace aamp {

namespace {

// What kind of refusal, so that the configured action for that class applies.
enum class Refusal {
  none,         // delivered
  bad_message,  // invalid AAMP: On-BadMessage
  policy_deny,  // untrusted, not allowed, stale, locked out: On-PolicyDeny
};

struct Outcome {
  std::string recipient;  // as the MTA gave it
  std::string address;    // normalized
  bool is_protected = false;
  bool report = false;    // report mode: never refused
  bool consumed = false;  // removed, not refused: a handled pair.request, or a duplicate
  Refusal refusal = Refusal::none;
  SmtpReply reply;
  std::optional<AuditVerdict> verdict;  // set when protected
  std::string reason;
  std::string ar_result = "pass";  // RFC 8601 result word for the verdict header
  std::optional<std::int64_t> rule_id;
  std::string rule_origin;
  bool audited = false;  // written inside the pairing transaction already
  MailboxMode binding = MailboxMode::off;  // thread binding here: the mailbox's, else ThreadBinding
  bool duplicate = false;                  // already delivered to this recipient (removed, not refused)
  std::optional<RegistryView> registry;    // read once by thread binding; the duplicate check uses it too
};

SmtpReply reply(std::string code, std::string xcode, std::string_view text) {
  return SmtpReply{std::move(code), std::move(xcode), for_smtp_reply(text)};
}

// RFC 3834 §5: never answer automatic mail. "Auto-Submitted: no" is a human's mail; every
// Auto-Submitted field must say so (a second field saying auto-replied is a loop marker
// that a reader of the last copy would see), and an empty one is not "no".
bool answerable(const MessageFacts& facts) {
  const std::string env = normalize_address(facts.envelope_from);
  if (env.empty()) return false;  // the null sender: a bounce or an auto-reply
  for (const auto& h : facts.headers) {
    if (!iequals(h.name, "Auto-Submitted")) continue;
    const std::string value = to_lower(unfold(h.value));
    if (value.substr(0, value.find_first_of(" \t;(")) != "no") return false;
  }
  return true;
}

std::string_view pair_error_text(PairOutcome o) {
  switch (o) {
    case PairOutcome::unknown_code: return "unknown pair code";
    case PairOutcome::expired: return "expired pair code";
    case PairOutcome::already_used: return "pair code already used";
    case PairOutcome::revoked: return "pair code revoked";
    case PairOutcome::locked_out: return "too many failed pairing attempts";
    case PairOutcome::completed: return "";
  }
  return "";
}

class Judge {
 public:
  Judge(const MessageFacts& facts, const EngineContext& ctx, const Validation& v, const TrustFindings& trust)
      : facts_(facts), ctx_(ctx), v_(v), msg_(v.message), trust_(trust), now_(ctx.clock.now()) {}

  Outcome judge(const std::string& recipient) {
    Outcome o;
    o.recipient = recipient;
    const RecipientJudgement j = judge_recipient(ctx_.store, ctx_.policy, recipient, msg_.intent);
    o.address = j.address;
    if (j.protection == Protection::none || j.protection == Protection::off) return o;
    o.is_protected = true;
    o.report = j.protection == Protection::report;
    const ProtectedMailbox& mb = *j.mailbox;
    o.binding = mb.thread_binding.value_or(ctx_.policy.thread_binding);

    if (v_.verdict == Verdict::invalid) {
      const std::string first = v_.violations.empty() ? "the AAMP header fields are malformed" : v_.violations.front().message;
      return refuse(std::move(o), Refusal::bad_message, AuditVerdict::invalid, "permerror",
                    reply("554", "5.6.0", "malformed AAMP message: " + first), first);
    }
    const Intent intent = *msg_.intent;
    if (j.check == IntentCheck::pairing) return pairing(std::move(o), mb);
    if (j.check == IntentCheck::none) {
      o.verdict = AuditVerdict::allow;
      o.reason = std::string(to_string(intent)) + " needs no sender policy";
    } else {
      o = sender_policy(std::move(o), mb, intent);
    }
    return o.refusal == Refusal::none ? bind_thread(std::move(o), mb, intent) : o;
  }

  bool reply_enqueued() const { return reply_enqueued_; }

 private:
  Outcome refuse(Outcome o, Refusal r, AuditVerdict verdict, std::string ar_result, SmtpReply rep, const std::string& reason) {
    o.refusal = r;
    o.verdict = verdict;
    o.ar_result = std::move(ar_result);
    o.reply = std::move(rep);
    o.reason = for_audit(reason);
    return o;
  }

  Outcome untrusted(Outcome o) {
    std::string why = "sender " + msg_.from + " is not authenticated";
    if (!trust_.auth_problem.empty()) why += " (" + trust_.auth_problem + ")";
    why += ": submit with SMTP AUTH as that address, or send with a DKIM signature of its domain";
    return refuse(std::move(o), Refusal::policy_deny, AuditVerdict::untrusted, "fail", reply("550", "5.7.1", why), why);
  }

  Outcome sender_policy(Outcome o, const ProtectedMailbox& mb, Intent intent) {
    if (!satisfies(trust_, mb.trust)) return untrusted(std::move(o));
    if (intent == Intent::task_dispatch && ctx_.policy.reject_stale_dispatch && msg_.expires_at &&
        *msg_.expires_at <= now_) {
      const std::string why = "stale task.dispatch: it expired at " + format_rfc3339(*msg_.expires_at);
      return refuse(std::move(o), Refusal::policy_deny, AuditVerdict::stale, "fail", reply("550", "5.7.1", why), why);
    }
    const DispatchContext no_context;
    const SenderVerdict sv =
        explain_sender(ctx_.store, mb, o.address, msg_.from, intent, msg_.dispatch_context ? *msg_.dispatch_context : no_context);
    if (!sv.allowed)
      return refuse(std::move(o), Refusal::policy_deny, AuditVerdict::deny, "fail", reply("550", "5.7.1", sv.reason), sv.reason);
    o.verdict = AuditVerdict::allow;
    o.rule_id = sv.rule_id;
    o.rule_origin = sv.rule_origin;
    o.reason = sv.reason;
    return o;
  }

  // Thread binding (thread_binding.hpp), after the message passed everything else. The sender
  // is a party as the mailbox's trust bases show it; a refusal in binding mode report is
  // audited as report-* and delivered.
  Outcome bind_thread(Outcome o, const ProtectedMailbox& mb, Intent intent) {
    if (o.binding == MailboxMode::off) return o;
    std::string party = thread_party(trust_, mb.trust, msg_.from);
    const bool ours = party.empty() && intent == Intent::pair_respond && our_reply(o.address);
    if (ours) party = to_lower(msg_.from);
    const std::string recipient = to_lower(o.address);
    static const RegistryView kNothingRead;
    if (intent != Intent::pair_request)  // it starts a thread and is never a duplicate: nothing to read
      o.registry = ctx_.store.registry_view(recipient, msg_.task_id, trim(msg_.message_id));
    const ThreadCheck c = check_thread(o.registry ? *o.registry : kNothingRead, intent, party, recipient, msg_.task_id,
                                       mb.unknown_threads.value_or(ctx_.policy.unknown_threads));
    if (!c.refusal) {
      if (ours) o.reason = for_audit(o.reason + "; our own pair.respond (Message-ID " + std::string(trim(msg_.message_id)) + ")");
      if (!c.reason.empty()) o.reason = for_audit(o.reason + "; " + c.reason);
      return o;
    }
    Outcome r = refuse(std::move(o), Refusal::policy_deny, *c.refusal, "fail", reply("550", "5.7.1", c.reply), c.reason);
    r.rule_id.reset();
    r.rule_origin.clear();
    if (r.binding == MailboxMode::report) r.report = true;
    return r;
  }

  // Whether this pair.respond is one this filter queued, passing back through the MTA to
  // `recipient` (Postfix's non_smtpd_milters, an SMTP reply transport without AUTH): it
  // shows no trust basis, but its Message-ID, random and chosen at enqueue time, is in the
  // outbox with this From, recipient and TaskId. Its From is then the party it answers for.
  bool our_reply(const std::string& recipient) const {
    const std::string_view id = trim(msg_.message_id);
    if (id.empty()) return false;
    const auto r = ctx_.store.queued_reply(id);
    return r && to_lower(r->from) == to_lower(msg_.from) && to_lower(r->to) == to_lower(recipient) &&
           r->task_id == msg_.task_id;
  }

  // The one intent that may bypass sender policy, and only for the code check (brief §2, §4).
  Outcome pairing(Outcome o, const ProtectedMailbox& mb) {
    if (!satisfies(trust_, ctx_.policy.pair_trust.value_or(mb.trust))) return untrusted(std::move(o));
    // A reply goes only where it can be addressed safely: a plain mailbox and a TaskId we
    // can echo unchanged (reply_fields.hpp); anything else is handled but not answered.
    const bool answer = answerable(facts_) && is_reply_mailbox(msg_.from) && is_reply_task_id(msg_.task_id);
    const std::string code = msg_.pair_code.value_or("");
    PairAttempt attempt{mb.id, msg_.from, code, now_, ctx_.policy.pair_limits, o.address};
    if (o.report) {  // say what pairing would do; perform nothing, answer nothing
      const PairCheck peek = ctx_.store.peek_pair_code(attempt);
      const bool would_complete = peek.outcome == PairOutcome::completed;
      o.verdict = would_complete ? AuditVerdict::report_pair_completed
                  : peek.outcome == PairOutcome::locked_out ? AuditVerdict::report_pair_locked
                                                            : AuditVerdict::report_pair_rejected;
      o.ar_result = would_complete ? "pass" : "fail";
      o.reason = "report mode, pairing not performed: code " + redact_code(code) + " would be " +
                 (would_complete ? std::string("accepted") : "refused: " + std::string(pair_error_text(peek.outcome)));
      return o;
    }
    // One pair.request is one attempt per mailbox address. A recipient listed twice, or a
    // second address of a mailbox this message has already paired, shares the earlier
    // outcome: redeeming the code again would answer "already used" to a pairing that
    // succeeded (two contradicting pair.respond for one TaskId) and count failures.
    for (const auto& [mailbox_id, earlier] : redeemed_) {
      if (mailbox_id != mb.id || (earlier.address != o.address && earlier.verdict != AuditVerdict::pair_completed)) continue;
      Outcome shared = earlier;
      shared.recipient = o.recipient;
      shared.address = o.address;
      shared.audited = false;  // its own audit row, written with the other recipients'
      shared.reason = for_audit(earlier.reason + " (the same pair.request as for " + earlier.address + ")");
      return shared;
    }
    auto effects = [&](const PairCheck& check) {
      PairEffects e;
      e.audit = audit_row(o);
      const std::string shown = "code " + redact_code(code);
      if (check.outcome == PairOutcome::completed) {
        e.rules_to_grant = narrow_rules(check.issued_rules, msg_.dispatch_context_rules.value_or(ContextRules{}));
        e.audit.verdict = AuditVerdict::pair_completed;
        e.audit.reason = shown + " accepted; " + msg_.from + " is paired";
      } else if (check.outcome == PairOutcome::locked_out) {
        e.audit.verdict = AuditVerdict::pair_locked;
        e.audit.reason = shown + " refused: too many failed pairing attempts until " + format_rfc3339(check.locked_until);
      } else {
        e.audit.verdict = AuditVerdict::pair_rejected;
        e.audit.reason = shown + " refused: " + std::string(pair_error_text(check.outcome));
      }
      if (!answer) e.audit.reason += "; not answered (automatic mail, null sender, or no safe reply address)";
      if (answer && check.outcome != PairOutcome::locked_out) {
        OutboxReply r;
        r.message_id = make_reply_message_id(ctx_.rng, domain_of(o.address));
        r.from = o.address;
        r.to = msg_.from;
        r.task_id = msg_.task_id;
        r.status = check.outcome == PairOutcome::completed ? TaskStatus::completed : TaskStatus::rejected;
        r.error_msg = std::string(pair_error_text(check.outcome));
        const std::string request_id(trim(msg_.message_id));
        r.in_reply_to = is_reply_message_id(request_id) ? request_id : std::string();
        r.created_at = now_;
        r.next_attempt_at = now_;
        e.reply = std::move(r);
      }
      return e;
    };
    const PairRedemption r = ctx_.store.redeem_pair_code(attempt, effects);
    o.audited = true;
    if (r.check.outcome == PairOutcome::locked_out) {
      const std::string why = "too many failed pairing attempts for " + o.address + "; try again after " +
                              format_rfc3339(r.check.locked_until);
      o = refuse(std::move(o), Refusal::policy_deny, AuditVerdict::pair_locked, "fail", reply("550", "5.7.1", why), why);
      redeemed_.emplace_back(mb.id, o);
      return o;
    }
    reply_enqueued_ = reply_enqueued_ || answer;
    const bool completed = r.check.outcome == PairOutcome::completed;
    o.verdict = completed ? AuditVerdict::pair_completed : AuditVerdict::pair_rejected;
    o.ar_result = completed ? "pass" : "fail";
    o.reason = completed ? "pairing completed" : std::string(pair_error_text(r.check.outcome));
    o.rule_id = r.rule_id;
    o.rule_origin = completed ? to_string(RuleOrigin::paired) : "";
    o.consumed = ctx_.policy.pair_requests == PairRequestHandling::consume;
    redeemed_.emplace_back(mb.id, o);
    return o;
  }

 public:
  AuditRecord audit_row(const Outcome& o) const {
    AuditRecord a;
    a.at = now_;
    a.message_id = for_audit(facts_.queue_id);
    a.client_addr = for_audit(facts_.client_addr);
    a.auth_user = for_audit(facts_.auth_user);
    a.envelope_from = for_audit(normalize_address(facts_.envelope_from));
    a.header_from = for_audit(msg_.from);
    a.recipient = for_audit(o.address);
    a.intent = for_audit(msg_.intent_text);
    a.task_id = for_audit(msg_.task_id);
    a.verdict = o.report && o.refusal != Refusal::none ? reported(*o.verdict) : *o.verdict;
    a.reason = o.reason;
    a.rule_id = o.rule_id;
    return a;
  }

 private:
  const MessageFacts& facts_;
  const EngineContext& ctx_;
  const Validation& v_;
  const AampMessage& msg_;
  const TrustFindings& trust_;
  const UnixTime now_;
  bool reply_enqueued_ = false;
  std::vector<std::pair<std::int64_t, Outcome>> redeemed_;  // this message's pairings, by mailbox id
};

Action action_for(Refusal r, const Policy& p) {
  return r == Refusal::bad_message ? p.on.bad_message : p.on.policy_deny;
}

// Whether `o` is delivered (not refused, or only in report mode) as the engine judged it.
bool passes(const Outcome& o) { return o.refusal == Refusal::none || o.report; }

// Each message delivered once (thread_binding.hpp): an AAMP message with a Message-ID that
// was delivered to a protected recipient before is removed for that recipient (in report
// mode: audited as report-duplicate and delivered). A pair.request is never one: its
// code's answer ("already used") tells a re-sender what happened.
void mark_duplicates(std::vector<Outcome>& outcomes, const AampMessage& msg, const std::string& message_id,
                     Store& store) {
  if (message_id.empty() || msg.intent == Intent::pair_request) return;
  for (auto& o : outcomes) {
    if (!o.is_protected || o.binding == MailboxMode::off || o.audited || o.consumed || o.refusal != Refusal::none)
      continue;
    const auto at = o.registry ? o.registry->delivered_at : store.delivered_at(message_id, to_lower(o.address));
    if (!at) continue;
    o.duplicate = true;
    o.verdict = AuditVerdict::duplicate;
    o.reason = for_audit("Message-ID " + message_id + " was delivered to " + o.address + " at " + format_rfc3339(*at));
    o.rule_id.reset();
    o.rule_origin.clear();
    if (o.report || o.binding == MailboxMode::report) {
      o.report = true;
      o.refusal = Refusal::policy_deny;  // "would refuse": audited report-duplicate, delivered
      o.ar_result = "fail";
    } else {
      o.consumed = true;  // removed for this recipient, not refused: the sender sees 250
    }
  }
}

// What a delivered message teaches the registry (thread_binding.hpp): the thread it starts
// — at a protected agent it reached, and at every recipient when a local sender (SMTP AUTH,
// an internal host) sent it — and, per protected recipient, that this Message-ID was delivered.
RegistryWrites registry_writes(const std::vector<Outcome>& outcomes, const AampMessage& msg,
                               const TrustFindings& trust, const std::string& message_id, UnixTime now,
                               const EngineContext& ctx) {
  RegistryWrites w;
  if (!msg.intent || msg.task_id.empty()) return w;
  const auto kind = thread_started_by(*msg.intent);
  const bool local = (trust.shown & (trust_auth | trust_internal)) != 0;
  const std::string initiator = to_lower(msg.from);
  const UnixTime kept = now + ctx.policy.thread_retention;
  for (const auto& o : outcomes) {
    if (!passes(o) || o.duplicate || o.address.empty()) continue;
    const std::string peer = to_lower(o.address);
    if (kind && !initiator.empty() && (local || (o.is_protected && *kind == ThreadKind::task)))
      w.threads.push_back({*kind, msg.task_id, initiator, peer, now, std::max(kept, msg.expires_at.value_or(0))});
    if (o.is_protected && o.binding != MailboxMode::off && !o.consumed && *msg.intent != Intent::pair_request &&
        !message_id.empty())
      w.deliveries.push_back({message_id, peer, now, kept});
  }
  return w;
}

// A tempfail reply for a refusal whose configured action is tempfail: same words, 4xx.
SmtpReply as_tempfail(const SmtpReply& r) {
  return SmtpReply{"451", "4" + r.xcode.substr(std::min<std::size_t>(1, r.xcode.size())), r.text};
}

std::string verdict_header(const std::vector<Outcome>& delivered, const Policy& policy, const std::string& from,
                           const std::string& intent, const TrustFindings& trust) {
  std::string v = policy.authserv_id;
  for (const auto& o : delivered) {
    v += "; aamp=" + o.ar_result;
    if (o.report && o.refusal != Refusal::none) v += " (report mode: would refuse)";
    if (o.refusal != Refusal::none) v += " reason=" + as_ar_value(o.reason);
    v += " header.from=" + as_ar_value(from.empty() ? "unknown" : from);
    v += " policy.intent=" + as_ar_value(intent);
    v += " policy.rcpt=" + as_ar_value(o.address);
    if (o.rule_id) v += " policy.rule=" + std::to_string(*o.rule_id);
    if (!o.rule_origin.empty()) v += " policy.origin=" + o.rule_origin;
    if (!trust.basis.empty()) v += " policy.trust=" + as_ar_value(trust.basis);
  }
  return v;
}

void decide_into(Decision& d, const MessageFacts& facts, const EngineContext& ctx) {
  const Policy& policy = ctx.policy;
  d.delete_headers = forged_verdicts(facts.headers, policy.authserv_id);
  if (!is_aamp(facts.headers)) {
    d.verdict = AuditVerdict::not_aamp;
    return;
  }
  d.aamp = true;
  const Validation v = validate(facts.headers, policy.validation);
  d.intent = for_audit(v.message.intent_text);
  d.task_id = for_audit(v.message.task_id);
  d.header_from = for_audit(v.message.from);
  const TrustFindings trust = evaluate_trust(facts, v.message.from, policy);

  Judge judge(facts, ctx, v, trust);
  std::vector<Outcome> outcomes;
  outcomes.reserve(facts.recipients.size());
  for (const auto& rcpt : facts.recipients) outcomes.push_back(judge.judge(rcpt));
  d.reply_enqueued = judge.reply_enqueued();

  // A message tempfailed or held as a whole reaches nobody now: its retry is judged afresh,
  // so it is neither a duplicate nor remembered.
  const bool held = std::any_of(outcomes.begin(), outcomes.end(), [&](const Outcome& o) {
    if (o.refusal == Refusal::none || o.report) return false;
    const Action a = action_for(o.refusal, policy);
    return a == Action::tempfail || a == Action::quarantine;
  });
  const UnixTime now = ctx.clock.now();
  const std::string message_id(trim(v.message.message_id));
  if (!held && v.verdict != Verdict::invalid) mark_duplicates(outcomes, v.message, message_id, ctx.store);

  // Audit every protected recipient's decision (pairings were written in their transaction)
  // and teach the registry, in one commit: a failure tempfails the message and records
  // nothing of it, so its retry finds no delivery (a recorded delivery with no mail would
  // make the retry a "duplicate").
  MessageWrites writes;
  for (const auto& o : outcomes)
    if (o.is_protected && !o.audited) writes.audit.push_back(judge.audit_row(o));
  if (!held && v.verdict != Verdict::invalid)
    writes.registry = registry_writes(outcomes, v.message, trust, message_id, now, ctx);
  ctx.store.record_message(writes);

  // Combine. Report mode never refuses; an `accept` action delivers despite the refusal.
  const Outcome* tempfail = nullptr;
  const Outcome* quarantine = nullptr;
  const Outcome* rejected = nullptr;
  std::vector<const Outcome*> removed;
  std::vector<Outcome> delivered_protected;
  for (const auto& o : outcomes) {
    d.recipients.push_back({o.recipient, o.is_protected, false, o.verdict, o.reason, std::nullopt});
    if (o.refusal != Refusal::none && !o.report)
      d.recipients.back().refusal = o.refusal == Refusal::bad_message ? RefusalClass::bad_message : RefusalClass::policy_deny;
    const Action act = o.refusal == Refusal::none || o.report ? Action::accept : action_for(o.refusal, policy);
    if (act == Action::tempfail && tempfail == nullptr) tempfail = &o;
    if (act == Action::quarantine && quarantine == nullptr) quarantine = &o;
    if (act == Action::reject && rejected == nullptr) rejected = &o;
    if (act == Action::reject || act == Action::discard || o.consumed) {
      removed.push_back(&o);
      d.recipients.back().refused = !o.consumed;
    } else if (o.is_protected) {
      delivered_protected.push_back(o);
    }
  }

  // The summary verdict: the first refusal, else the first protected outcome.
  const Outcome* headline = tempfail ? tempfail : quarantine ? quarantine : rejected;
  if (headline == nullptr)
    for (const auto& o : outcomes)
      if (o.is_protected) { headline = &o; break; }
  if (headline == nullptr) {
    d.verdict = AuditVerdict::unprotected;
    d.reason = "no recipient is a protected mailbox";
  } else {
    d.verdict = headline->report && headline->refusal != Refusal::none ? reported(*headline->verdict) : *headline->verdict;
    d.reason = headline->reason;
  }

  if (tempfail != nullptr) {
    d.action = Action::tempfail;
    d.reply = as_tempfail(tempfail->reply);
    return;
  }
  if (quarantine != nullptr) {
    d.action = Action::quarantine;
    d.quarantine_reason = "aamp-milter: " + quarantine->reason;
    return;
  }
  // Never leave a message with zero recipients through smfi_delrcpt: Stalwart stores such a
  // message and never schedules it (data.rs:740), so it would sit in its spool. DISCARD is
  // a drop under Stalwart as under Postfix (data.rs:608-611). Every way a recipient goes
  // (reject, discard, a consumed pair.request) is in `removed`; a recipient listed twice is
  // judged alike both times (the pairing shares its outcome).
  if (removed.size() == outcomes.size() && !outcomes.empty()) {
    if (rejected != nullptr) {
      d.action = Action::reject;
      d.reply = rejected->reply;
    } else {
      d.action = Action::discard;
    }
    return;
  }
  for (const Outcome* o : removed) d.delete_recipients.push_back(o->recipient);
  if (!delivered_protected.empty())
    d.add_headers.push_back({"Authentication-Results",
                             verdict_header(delivered_protected, policy, d.header_from, d.intent, trust)});
}

// The words of each failure kind (failure_decision).
struct FailureWords {
  AuditVerdict verdict;
  const char* temp_text;   // after 451 4.3.0
  const char* perm_xcode;  // after 554
  const char* perm_text;
};

FailureWords failure_words(FailureKind kind) {
  switch (kind) {
    case FailureKind::store_error:
      return {AuditVerdict::store_error, "temporary local problem: policy store unavailable, try again later", "5.3.0",
              "local problem: policy store unavailable"};
    case FailureKind::internal_error: break;  // below, with any value out of range
    case FailureKind::too_large:
      return {AuditVerdict::too_large, "temporary local problem, try again later", "5.6.0",
              "message header block or recipient list too large to check"};
  }
  return {AuditVerdict::internal_error, "temporary local problem, try again later", "5.3.0", "local problem in the AAMP policy filter"};
}

}  // namespace

Decision failure_decision(Action action, FailureKind kind, std::string_view why, Decision so_far) {
  const FailureWords w = failure_words(kind);
  Decision d = std::move(so_far);
  d.action = action;
  d.delete_recipients.clear();
  d.add_headers.clear();
  d.delete_headers.clear();
  d.reply.reset();
  d.quarantine_reason.clear();
  if (action == Action::tempfail) d.reply = reply("451", "4.3.0", w.temp_text);
  if (action == Action::reject) d.reply = reply("554", w.perm_xcode, w.perm_text);
  d.verdict = w.verdict;
  d.reason = for_audit(why);
  if (action == Action::quarantine) d.quarantine_reason = "aamp-milter: " + d.reason;
  return d;
}

SenderVerdict explain_sender(Store& store, const ProtectedMailbox& mailbox, const std::string& recipient,
                             const std::string& from, Intent intent, const DispatchContext& context) {
  SenderVerdict v;
  const auto rules = store.matching_rules(mailbox.id, from);
  std::string context_problem;
  for (const auto& rule : rules) {
    std::string why;
    if (context_allows(rule.context, context, &why)) {
      v.allowed = true;
      v.rule_id = rule.id;
      v.rule_origin = to_string(rule.origin);
      v.reason = "sender rule " + std::to_string(rule.id) + " (" + v.rule_origin + ", " + rule.pattern + ") allows it";
      return v;
    }
    if (context_problem.empty()) context_problem = "rule " + std::to_string(rule.id) + ": " + why;
  }
  v.reason = for_audit(from + " may not send " + std::string(to_string(intent)) + " to " + recipient + ": " +
                       (rules.empty() ? "no sender rule allows it; ask the mailbox's operator for a pairing code"
                                      : "the dispatch context does not satisfy any sender rule (" + context_problem + ")"));
  return v;
}

bool needs_decision(const HeaderList& headers, const Policy& policy) noexcept {
  try {
    return is_aamp(headers) || !forged_verdicts(headers, policy.authserv_id).empty();
  } catch (...) {
    return true;  // out of memory here: let end of message decide (and fail safely)
  }
}

Decision decide(const MessageFacts& facts, const EngineContext& ctx) {
  Decision d;
  try {
    decide_into(d, facts, ctx);
    return d;
  } catch (const StoreError& e) {
    Decision f = failure_decision(ctx.policy.on.store_error, FailureKind::store_error, e.what(), std::move(d));
    f.store_error = e.kind();
    return f;
  } catch (const std::exception& e) {
    return failure_decision(ctx.policy.on.internal_error, FailureKind::internal_error, e.what(), std::move(d));
  }
}

}  // namespace aamp
