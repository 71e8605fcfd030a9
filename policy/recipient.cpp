// recipient.cpp — see recipient.hpp.
#include "policy/recipient.hpp"

#include <algorithm>

#include "policy/sender_pattern.hpp"

namespace aamp {

namespace {

// The mailbox row that protects `address`. With RecipientDelimiter, Postfix delivers
// agent+tag@x to agent@x: a row for exactly agent+tag@x still wins, else agent@x's
// protection applies (and `address` becomes agent@x: audit rows, pairing and replies
// speak of the mailbox that gets the mail).
std::optional<ProtectedMailbox> protecting_mailbox(Store& store, std::string_view delimiters, std::string& address) {
  auto mb = store.find_mailbox(address);
  const std::string base = strip_address_extension(address, delimiters);
  if (base == address || (mb && mb->address == address)) return mb;
  auto base_mb = store.find_mailbox(base);
  if (!base_mb) return mb;
  address = base;
  return base_mb;
}

}  // namespace

RecipientJudgement judge_recipient(Store& store, const Policy& policy, std::string_view recipient,
                                   std::optional<Intent> intent) {
  RecipientJudgement j;
  j.address = normalize_recipient(recipient);  // Postfix delivers <"agent"@x.> to agent@x
  j.mailbox = protecting_mailbox(store, policy.recipient_delimiters, j.address);
  if (!j.mailbox) return j;
  if (j.mailbox->mode == MailboxMode::off) {
    j.protection = Protection::off;
    return j;
  }
  const bool report = policy.mode == EnforcementMode::report || j.mailbox->mode == MailboxMode::report;
  j.protection = report ? Protection::report : Protection::enforce;
  if (!intent) return j;
  const auto& guarded = j.mailbox->guarded_intents;
  if (*intent == Intent::pair_request) j.check = IntentCheck::pairing;
  else if (std::find(guarded.begin(), guarded.end(), *intent) != guarded.end()) j.check = IntentCheck::sender_policy;
  return j;
}

}  // namespace aamp
