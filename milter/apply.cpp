// apply.cpp — THE one place a Decision becomes smfi_* calls, at end of message (libmilter
// allows header and recipient changes only there). What to call, in which order and with
// which text is decided by plan_application (apply_plan.hpp, pure and unit-tested); this
// file only walks the plan. Any smfi_* failure throws; callbacks.cpp's firewall turns that
// into a tempfail.
// Threading: called on the connection's libmilter thread only.
#include "milter/apply.hpp"

#include <stdexcept>
#include <string>

#include "milter/apply_plan.hpp"
#include "milter/log.hpp"

namespace aamp::milter {

namespace {

void check(int rc, const char* what) {
  if (rc != MI_SUCCESS) throw std::runtime_error(std::string(what) + " failed");
}

sfsistat status_of(EomStatus s) {
  switch (s) {
    case EomStatus::proceed: return SMFIS_CONTINUE;
    case EomStatus::tempfail: return SMFIS_TEMPFAIL;
    case EomStatus::reject: return SMFIS_REJECT;
    case EomStatus::discard: return SMFIS_DISCARD;
  }
  throw std::logic_error("unknown end-of-message status");
}

}  // namespace

sfsistat apply_decision(SMFICTX* ctx, const Decision& d) {
  ApplyPlan plan = plan_application(d);
  if (!plan.warning.empty()) log_line(Severity::warning, plan.warning);
  // Forged headers are removed before ours is added (RFC 8601 §5), so an index never points
  // at our own field.
  for (auto& r : plan.removals) check(smfi_chgheader(ctx, r.name.data(), r.index, nullptr), "smfi_chgheader (remove)");
  for (auto& h : plan.insertions) check(smfi_insheader(ctx, 0, h.name.data(), h.value.data()), "smfi_insheader");
  for (auto& rcpt : plan.delete_recipients) check(smfi_delrcpt(ctx, rcpt.data()), "smfi_delrcpt");
  if (plan.reply) {
    SmtpReply& r = *plan.reply;
    check(smfi_setreply(ctx, r.code.data(), r.xcode.data(), r.text.data()), "smfi_setreply");
  }
  // Postfix puts the message on hold; Stalwart only adds an X-Quarantine header.
  if (plan.quarantine_reason) check(smfi_quarantine(ctx, plan.quarantine_reason->data()), "smfi_quarantine");
  return status_of(plan.status);
}

}  // namespace aamp::milter
