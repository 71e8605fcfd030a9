// apply_plan.hpp — the pure half of applying a Decision at end of message: which headers to
// remove in which order, what to insert, which recipients to delete, the reply (checked, with
// the text made safe for libmilter) and the status that goes with its code class. apply.cpp
// walks the plan with smfi_* calls and decides nothing.
// Must not include libmilter (unit-tested without it). Pure and reentrant.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "policy/decision.hpp"

namespace aamp::milter {

// The end-of-message status, one per sfsistat apply.cpp returns.
enum class EomStatus {
  proceed,   // SMFIS_CONTINUE: deliver, with the plan's changes
  tempfail,  // SMFIS_TEMPFAIL, with the plan's 4xx reply
  reject,    // SMFIS_REJECT, with the plan's 5xx reply
  discard,   // SMFIS_DISCARD: accept and drop silently, nothing changed
};

struct ApplyPlan {
  std::vector<HeaderRemoval> removals;          // smfi_chgheader(name, index, NULL), in this order
  std::vector<HeaderAddition> insertions;       // smfi_insheader(0, ...), in this order
  std::vector<std::string> delete_recipients;   // smfi_delrcpt, in this order
  std::optional<SmtpReply> reply;               // smfi_setreply: valid, text for_milter_reply
  std::optional<std::string> quarantine_reason; // smfi_quarantine
  std::string warning;                          // a warning line to log first, when not empty
  EomStatus status = EomStatus::proceed;
};

// RFC 5321 §4.2 "4yz"/"5yz" and an RFC 3463 enhanced code "class.subject.detail" (subject
// 1-3 digits, detail 1-3 digits) of the same class.
bool valid_reply(const SmtpReply& reply) noexcept;

// The plan for `d`. Header removals come first, the highest index of each name first (names
// compared case-insensitively), then insertions (at index 0, so in reverse of the Decision's
// order: the result keeps its order at the top of the header block), then recipient removals.
// Reject and tempfail change nothing and only set the reply: the Decision's, or the
// fallback of the action when it is missing or invalid (then with a warning); the reply's
// code class, not the action, chooses tempfail or reject. Throws std::runtime_error for a
// header removal with an index below 1 (smfi_chgheader counts from 1), before any change.
ApplyPlan plan_application(const Decision& d);

}  // namespace aamp::milter
