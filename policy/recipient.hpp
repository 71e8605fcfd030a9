// recipient.hpp — who a recipient is: the mailbox an envelope recipient reaches, the
// protected-mailbox row that covers it, how that protection applies and what the message's
// intent needs there. The one copy of this rule (style.md item 15): decide() judges every
// recipient with it, and aampctl asks it ("would this recipient be protected?").
// Pure apart from the Store lookups it makes; no libmilter, no SQLite. Reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "policy/intent.hpp"
#include "policy/policy.hpp"
#include "policy/store.hpp"

namespace aamp {

enum class Protection {
  none,     // no mailbox row covers the recipient: the milter leaves it alone
  off,      // a row covers it in mode off: no enforcement
  report,   // decided and audited, never refused (mailbox mode report, or global Mode report)
  enforce,  // decided and acted on
};

enum class IntentCheck {
  none,           // not one of the mailbox's guarded intents: allowed without sender policy
  sender_policy,  // a guarded intent: trust, then a sender rule
  pairing,        // pair.request: trust, then its pair code; it bypasses sender policy
};

struct RecipientJudgement {
  // The mailbox the recipient reaches, as audit rows, pairing and replies name it:
  // normalize_recipient(), and the address extension removed when the base address's
  // protection applies (RecipientDelimiter).
  std::string address;
  std::optional<ProtectedMailbox> mailbox;  // the row that covers it; nullopt with Protection::none
  Protection protection = Protection::none;
  IntentCheck check = IntentCheck::none;  // with Protection::report and ::enforce only
};

// Judges `recipient` (an envelope recipient as the MTA or the operator wrote it) for a
// message of `intent` (nullopt: the message has no valid intent) under `policy`'s Mode and
// RecipientDelimiter. Throws StoreError when the store does.
RecipientJudgement judge_recipient(Store& store, const Policy& policy, std::string_view recipient,
                                   std::optional<Intent> intent);

}  // namespace aamp
