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
};

inline constexpr NameTable<AuditVerdict, 23> kAuditVerdictNames{{
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
    case AuditVerdict::reply_abandoned: return v;
  }
  return v;
}

}  // namespace aamp
