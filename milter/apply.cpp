// apply.cpp — THE one place a Decision becomes smfi_* calls, at end of message (libmilter
// allows header and recipient changes only there). Order matters: forged headers are
// removed before ours is added (RFC 8601 §5), so an index never points at our own field.
// Any smfi_* failure throws; callbacks.cpp's firewall turns that into a tempfail.
// Threading: called on the connection's libmilter thread only.
#include "milter/apply.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "milter/log.hpp"
#include "policy/decision.hpp"
#include "policy/text.hpp"
#include "policy/text_safety.hpp"

namespace aamp::milter {

namespace {

void check(int rc, const char* what) {
  if (rc != MI_SUCCESS) throw std::runtime_error(std::string(what) + " failed");
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// RFC 5321 §4.2: "4yz"/"5yz"; RFC 3463: class.subject.detail with the same class.
bool valid_reply(const SmtpReply& r) {
  if (r.code.size() != 3 || (r.code[0] != '4' && r.code[0] != '5') || !digit(r.code[1]) || !digit(r.code[2]))
    return false;
  const std::string& x = r.xcode;
  if (x.size() < 5 || x[0] != r.code[0] || x[1] != '.') return false;
  const auto dot = x.find('.', 2);
  if (dot == std::string::npos || dot == 2 || dot > 5 || dot + 1 >= x.size() || x.size() - dot - 1 > 3) return false;
  return std::all_of(x.begin() + 2, x.begin() + static_cast<long>(dot), digit) &&
         std::all_of(x.begin() + static_cast<long>(dot) + 1, x.end(), digit);
}

// Sets the reply and returns the status that goes with its code class.
sfsistat refuse(SMFICTX* ctx, const std::optional<SmtpReply>& given, const SmtpReply& fallback) {
  SmtpReply r = given.value_or(fallback);
  if (!valid_reply(r)) {
    logf(Severity::warning, "apply: invalid SMTP reply \"{} {}\": using \"{}\"", for_log_line(r.code, 8),
         for_log_line(r.xcode, 16), fallback.str());
    r = fallback;
  }
  std::string text = for_milter_reply(r.text);
  check(smfi_setreply(ctx, r.code.data(), r.xcode.data(), text.data()), "smfi_setreply");
  // A 4xx text with SMFIS_REJECT would be ignored by the MTA (and the reverse): the code
  // class decides.
  return r.code[0] == '4' ? SMFIS_TEMPFAIL : SMFIS_REJECT;
}

void change_message(SMFICTX* ctx, const Decision& d) {
  // Removals first, the highest index of each name first: Postfix and Stalwart renumber the
  // fields of a name after each removal, so ascending order would remove the wrong ones.
  std::vector<HeaderRemoval> removals = d.delete_headers;
  std::sort(removals.begin(), removals.end(), [](const HeaderRemoval& a, const HeaderRemoval& b) {
    const std::string la = to_lower(a.name), lb = to_lower(b.name);
    return la != lb ? la < lb : a.index > b.index;
  });
  for (auto& r : removals) {
    if (r.index < 1) throw std::runtime_error("header removal with index " + std::to_string(r.index));
    check(smfi_chgheader(ctx, r.name.data(), r.index, nullptr), "smfi_chgheader (remove)");
  }
  // Additions go to the top of the header block (RFC 8601 §5: Authentication-Results is
  // prepended, like a trace field). Inserting at 0 in reverse keeps the Decision's order.
  for (auto it = d.add_headers.rbegin(); it != d.add_headers.rend(); ++it) {
    std::string name = it->name, value = it->value;
    check(smfi_insheader(ctx, 0, name.data(), value.data()), "smfi_insheader");
  }
  for (const auto& rcpt : d.delete_recipients) {
    std::string r = rcpt;
    check(smfi_delrcpt(ctx, r.data()), "smfi_delrcpt");
  }
}

}  // namespace

sfsistat apply_decision(SMFICTX* ctx, const Decision& d) {
  switch (d.action) {
    case Action::accept:
      change_message(ctx, d);
      return SMFIS_CONTINUE;
    case Action::quarantine: {
      change_message(ctx, d);
      std::string reason =
          d.quarantine_reason.empty() ? std::string("aamp-milter") : for_log_line(d.quarantine_reason, 200);
      // Postfix puts the message on hold; Stalwart only adds an X-Quarantine header.
      check(smfi_quarantine(ctx, reason.data()), "smfi_quarantine");
      return SMFIS_CONTINUE;
    }
    case Action::reject:
      return refuse(ctx, d.reply, SmtpReply{"550", "5.7.1", "message refused by AAMP policy"});
    case Action::tempfail:
      return refuse(ctx, d.reply, SmtpReply{"451", "4.3.0", "temporary local problem, try again later"});
    case Action::discard:
      return SMFIS_DISCARD;
  }
  throw std::logic_error("unknown action");
}

}  // namespace aamp::milter
