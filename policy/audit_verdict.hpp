// audit_verdict.hpp — what became of a message or one of its recipients, as the audit
// trail, the summary log line and aampctl spell it ("allow", "report-deny", ...). One
// enum, one name table: the stored text never changes. Pure, constexpr; no dependencies
// beyond policy/names.hpp; immutable, safe to share between threads.
#pragma once

#include <string_view>

#include "policy/names.hpp"

namespace aamp {

enum class AuditVerdict {
  allow,                  // a guarded intent a sender rule allows, or an unguarded one
  deny,                   // no sender rule allows it
  invalid,                // AAMP, but malformed
  untrusted,              // the sender shows none of the required trust bases
  stale,                  // a task.dispatch past its Expires-At
  pair_completed,         // a pair.request whose code was redeemed
  pair_rejected,          // a pair.request whose code was refused
  pair_locked,            // a pair.request refused by the failure lockout
  report_deny,            // report mode: each would-be refusal or pairing, "report-" + its name
  report_invalid,
  report_untrusted,
  report_stale,
  report_pair_completed,
  report_pair_rejected,
  report_pair_locked,
  not_aamp,               // the message is not AAMP (summary only)
  unprotected,            // no recipient is a protected mailbox (summary only)
  too_large,              // headers or recipients over the milter's bounds (summary only)
  store_error,            // the policy store failed
  internal_error,         // anything else failed
  reply_sent,             // the outbox worker sent a pair.respond
  reply_deferred,         // ... could not send it yet, will retry
  reply_abandoned,        // ... gave up on it
  thread_hijack,          // a task.dispatch on a thread another dispatcher started at this agent
  not_party,              // an answer or cancel from someone who is not a party of its thread
  unknown_thread,         // an answer in a thread the registry never saw (UnknownThreads refuse)
  duplicate,              // a message already delivered to this recipient (by Message-ID)
  report_thread_hijack,
  report_not_party,
  report_unknown_thread,
  report_duplicate,
};

inline constexpr NameTable<AuditVerdict, 31> kAuditVerdictNames{{
    {"allow", AuditVerdict::allow},
    {"deny", AuditVerdict::deny},
    {"invalid", AuditVerdict::invalid},
    {"untrusted", AuditVerdict::untrusted},
    {"stale", AuditVerdict::stale},
    {"pair-completed", AuditVerdict::pair_completed},
    {"pair-rejected", AuditVerdict::pair_rejected},
    {"pair-locked", AuditVerdict::pair_locked},
    {"report-deny", AuditVerdict::report_deny},
    {"report-invalid", AuditVerdict::report_invalid},
    {"report-untrusted", AuditVerdict::report_untrusted},
    {"report-stale", AuditVerdict::report_stale},
    {"report-pair-completed", AuditVerdict::report_pair_completed},
    {"report-pair-rejected", AuditVerdict::report_pair_rejected},
    {"report-pair-locked", AuditVerdict::report_pair_locked},
    {"not-aamp", AuditVerdict::not_aamp},
    {"unprotected", AuditVerdict::unprotected},
    {"too-large", AuditVerdict::too_large},
    {"store-error", AuditVerdict::store_error},
    {"internal-error", AuditVerdict::internal_error},
    {"reply-sent", AuditVerdict::reply_sent},
    {"reply-deferred", AuditVerdict::reply_deferred},
    {"reply-abandoned", AuditVerdict::reply_abandoned},
    {"thread-hijack", AuditVerdict::thread_hijack},
    {"not-party", AuditVerdict::not_party},
    {"unknown-thread", AuditVerdict::unknown_thread},
    {"duplicate", AuditVerdict::duplicate},
    {"report-thread-hijack", AuditVerdict::report_thread_hijack},
    {"report-not-party", AuditVerdict::report_not_party},
    {"report-unknown-thread", AuditVerdict::report_unknown_thread},
    {"report-duplicate", AuditVerdict::report_duplicate},
}};
constexpr std::string_view to_string(AuditVerdict v) noexcept { return name_of(kAuditVerdictNames, v); }

// What report mode records instead of `v`: its "report-" variant; `v` itself when it has none.
constexpr AuditVerdict reported(AuditVerdict v) noexcept {
  switch (v) {
    case AuditVerdict::deny: return AuditVerdict::report_deny;
    case AuditVerdict::invalid: return AuditVerdict::report_invalid;
    case AuditVerdict::untrusted: return AuditVerdict::report_untrusted;
    case AuditVerdict::stale: return AuditVerdict::report_stale;
    case AuditVerdict::pair_completed: return AuditVerdict::report_pair_completed;
    case AuditVerdict::pair_rejected: return AuditVerdict::report_pair_rejected;
    case AuditVerdict::pair_locked: return AuditVerdict::report_pair_locked;
    case AuditVerdict::thread_hijack: return AuditVerdict::report_thread_hijack;
    case AuditVerdict::not_party: return AuditVerdict::report_not_party;
    case AuditVerdict::unknown_thread: return AuditVerdict::report_unknown_thread;
    case AuditVerdict::duplicate: return AuditVerdict::report_duplicate;
    case AuditVerdict::allow:
    case AuditVerdict::report_deny:
    case AuditVerdict::report_invalid:
    case AuditVerdict::report_untrusted:
    case AuditVerdict::report_stale:
    case AuditVerdict::report_pair_completed:
    case AuditVerdict::report_pair_rejected:
    case AuditVerdict::report_pair_locked:
    case AuditVerdict::not_aamp:
    case AuditVerdict::unprotected:
    case AuditVerdict::too_large:
    case AuditVerdict::store_error:
    case AuditVerdict::internal_error:
    case AuditVerdict::reply_sent:
    case AuditVerdict::reply_deferred:
    case AuditVerdict::reply_abandoned:
    case AuditVerdict::report_thread_hijack:
    case AuditVerdict::report_not_party:
    case AuditVerdict::report_unknown_thread:
    case AuditVerdict::report_duplicate: return v;
  }
  return v;
}

}  // namespace aamp
