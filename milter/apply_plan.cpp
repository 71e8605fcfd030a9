// apply_plan.cpp — see apply_plan.hpp.
#include "milter/apply_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "policy/text.hpp"
#include "policy/text_safety.hpp"

namespace aamp::milter {

namespace {

constexpr bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The header and recipient changes of an accepted or quarantined message.
void plan_changes(ApplyPlan& plan, const Decision& d) {
  // Removals first, the highest index of each name first: Postfix and Stalwart renumber the
  // fields of a name after each removal, so ascending order would remove the wrong ones.
  plan.removals = d.delete_headers;
  for (const auto& r : plan.removals)
    if (r.index < 1) throw std::runtime_error("header removal with index " + std::to_string(r.index));
  std::sort(plan.removals.begin(), plan.removals.end(), [](const HeaderRemoval& a, const HeaderRemoval& b) {
    const std::string la = to_lower(a.name), lb = to_lower(b.name);
    return la != lb ? la < lb : a.index > b.index;
  });
  // Additions go to the top of the header block (RFC 8601 §5: Authentication-Results is
  // prepended, like a trace field). Inserting at 0 in reverse keeps the Decision's order.
  plan.insertions.assign(d.add_headers.rbegin(), d.add_headers.rend());
  plan.delete_recipients = d.delete_recipients;
}

// The reply of a refused message and the status that goes with its code class.
void plan_refusal(ApplyPlan& plan, const std::optional<SmtpReply>& given, const SmtpReply& fallback) {
  SmtpReply r = given.value_or(fallback);
  if (!valid_reply(r)) {
    plan.warning = fmt::format("apply: invalid SMTP reply \"{} {}\": using \"{}\"", for_log_line(r.code, 8),
                               for_log_line(r.xcode, 16), fallback.str());
    r = fallback;
  }
  // Trap: Stalwart sends the SMFIR_REPLYCODE text to the client verbatim, so a '%' doubled
  // here for libmilter and Postfix would reach a Stalwart client as "%%". None arrives: the
  // engine and validator make every reply text with for_smtp_reply, which replaces '%'
  // (engine_test ReplyTextsNeverHoldAPercent; session_fuzz checks every reply).
  r.text = for_milter_reply(r.text);
  // A 4xx text with SMFIS_REJECT would be ignored by the MTA (and the reverse): the code
  // class decides.
  plan.status = r.code[0] == '4' ? EomStatus::tempfail : EomStatus::reject;
  plan.reply = std::move(r);
}

}  // namespace

bool valid_reply(const SmtpReply& r) noexcept {
  if (r.code.size() != 3 || (r.code[0] != '4' && r.code[0] != '5') || !digit(r.code[1]) || !digit(r.code[2]))
    return false;
  const std::string& x = r.xcode;
  if (x.size() < 5 || x[0] != r.code[0] || x[1] != '.') return false;
  const auto dot = x.find('.', 2);
  if (dot == std::string::npos || dot == 2 || dot > 5 || dot + 1 >= x.size() || x.size() - dot - 1 > 3) return false;
  return std::all_of(x.begin() + 2, x.begin() + static_cast<long>(dot), digit) &&
         std::all_of(x.begin() + static_cast<long>(dot) + 1, x.end(), digit);
}

ApplyPlan plan_application(const Decision& d) {
  ApplyPlan plan;
  switch (d.action) {
    case Action::accept:
      plan_changes(plan, d);
      return plan;
    case Action::quarantine:
      plan_changes(plan, d);
      // The MTA logs the reason (Postfix) or puts it in a header (Stalwart): one safe line.
      plan.quarantine_reason =
          d.quarantine_reason.empty() ? std::string("aamp-milter") : for_log_line(d.quarantine_reason, 200);
      return plan;
    case Action::reject:
      plan_refusal(plan, d.reply, SmtpReply{"550", "5.7.1", "message refused by AAMP policy"});
      return plan;
    case Action::tempfail:
      plan_refusal(plan, d.reply, SmtpReply{"451", "4.3.0", "temporary local problem, try again later"});
      return plan;
    case Action::discard:
      plan.status = EomStatus::discard;
      return plan;
  }
  throw std::logic_error("unknown action");
}

}  // namespace aamp::milter
