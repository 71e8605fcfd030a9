// decision.hpp — what the engine decided for one message, as plain values. milter/apply.cpp
// turns it into smfi_* calls; aampctl check prints it. Pure data.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/audit_verdict.hpp"
#include "policy/names.hpp"
#include "policy/store.hpp"

namespace aamp {

enum class Action {
  accept,      // deliver (to the recipients left), with the header changes
  reject,      // 5xx for the whole message
  tempfail,    // 4xx: the MTA keeps the mail and the client retries
  quarantine,  // accept into the MTA's hold queue (Postfix); a header only on Stalwart
  discard,     // accept and drop silently
};
// The On-* config values.
inline constexpr NameTable<Action, 5> kActionNames{{{"accept", Action::accept},
                                                    {"reject", Action::reject},
                                                    {"tempfail", Action::tempfail},
                                                    {"quarantine", Action::quarantine},
                                                    {"discard", Action::discard}}};
constexpr std::string_view to_string(Action a) noexcept { return name_of(kActionNames, a); }

struct SmtpReply {
  std::string code;   // "550"
  std::string xcode;  // "5.7.1"
  std::string text;   // one line, printable ASCII, no '%' (for_smtp_reply: Stalwart shows a doubled one)
  std::string str() const { return code + " " + xcode + " " + text; }
};

struct HeaderRemoval {
  std::string name;  // e.g. "Authentication-Results"
  int index = 0;     // 1-based among the fields of that name, as smfi_chgheader counts
};

struct HeaderAddition {
  std::string name;
  std::string value;
};

// Why a recipient was refused: the class whose configured action applies (On-BadMessage,
// On-PolicyDeny); the class label of aamp_refusals_total.
enum class RefusalClass {
  bad_message,  // invalid AAMP (or a message over the milter's bounds)
  policy_deny,  // untrusted, no rule allows it, stale, pairing locked out
};
inline constexpr NameTable<RefusalClass, 2> kRefusalClassNames{
    {{"bad-message", RefusalClass::bad_message}, {"policy-deny", RefusalClass::policy_deny}}};
constexpr std::string_view to_string(RefusalClass c) noexcept { return name_of(kRefusalClassNames, c); }

// The outcome for one recipient, for logs and the multi-recipient split.
struct RecipientOutcome {
  std::string recipient;
  bool protected_mailbox = false;
  bool refused = false;
  std::optional<AuditVerdict> verdict;  // as in the audit row (without "report-"); none when not protected
  std::string reason;
  std::optional<RefusalClass> refusal;  // refused (not in report mode), whatever the action
};

struct Decision {
  Action action = Action::accept;
  std::optional<SmtpReply> reply;               // with reject and tempfail
  std::vector<std::string> delete_recipients;   // as the MTA gave them
  std::vector<HeaderRemoval> delete_headers;    // applied before the additions
  std::vector<HeaderAddition> add_headers;
  std::string quarantine_reason;                // with quarantine

  // For the summary log line; not applied.
  bool aamp = false;
  std::string intent;
  std::string task_id;
  std::string header_from;
  AuditVerdict verdict = AuditVerdict::not_aamp;  // the message's overall verdict
  std::string reason;
  std::vector<RecipientOutcome> recipients;
  std::optional<StoreErrorKind> store_error;  // the store failed (verdict store-error): how
  bool reply_enqueued = false;  // a pair.respond waits in the outbox: wake the worker
};

}  // namespace aamp
