// recipient_test.cpp — judge_recipient() as a table: a recipient as the MTA or the operator
// wrote it, the policy's Mode and RecipientDelimiter and the message's intent in; the
// mailbox address, the covering row, the protection and the intent's check out. Against
// MemoryStore.
#include "policy/recipient.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "tests/support/memory_store.hpp"

namespace aamp {
namespace {

ProtectedMailbox mailbox(const std::string& address, MailboxMode mode = MailboxMode::enforce) {
  ProtectedMailbox m;
  m.address = address;
  m.mode = mode;
  return m;
}

TEST(JudgeRecipient, Table) {
  test::MemoryStore store;
  store.add_mailbox(mailbox("agent@example.net"));
  store.add_mailbox(mailbox("agent+own@example.net"));
  store.add_mailbox(mailbox("@agents.example.net"));
  store.add_mailbox(mailbox("quiet@example.net", MailboxMode::report));
  store.add_mailbox(mailbox("asleep@example.net", MailboxMode::off));
  ProtectedMailbox open = mailbox("open@example.net");
  open.guarded_intents = {};
  store.add_mailbox(open);

  struct Row {
    const char* label;
    const char* recipient;
    const char* delimiters;
    EnforcementMode mode;
    std::optional<Intent> intent;
    const char* want_address;
    const char* want_mailbox;  // "" = none
    Protection want_protection;
    IntentCheck want_check;
  };
  constexpr auto enforce = EnforcementMode::enforce;
  constexpr auto dispatch = Intent::task_dispatch;
  const std::vector<Row> rows = {
      {"plain", "agent@example.net", "", enforce, dispatch, "agent@example.net", "agent@example.net",
       Protection::enforce, IntentCheck::sender_policy},
      {"upper case, in brackets", "<AGENT@Example.NET>", "", enforce, dispatch, "agent@example.net",
       "agent@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"quoted local part", "\"agent\"@example.net", "", enforce, dispatch, "agent@example.net", "agent@example.net",
       Protection::enforce, IntentCheck::sender_policy},
      {"trailing dot", "agent@example.net.", "", enforce, dispatch, "agent@example.net", "agent@example.net",
       Protection::enforce, IntentCheck::sender_policy},
      {"source route", "<@relay.example,@mx.example:agent@example.net>", "", enforce, dispatch, "agent@example.net",
       "agent@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"+extension without a delimiter: another address", "agent+x@example.net", "", enforce, dispatch,
       "agent+x@example.net", "", Protection::none, IntentCheck::none},
      {"+extension with a delimiter: the base mailbox", "agent+x@example.net", "+", enforce, dispatch,
       "agent@example.net", "agent@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"second delimiter character", "agent-x@example.net", "+-", enforce, dispatch, "agent@example.net",
       "agent@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"quoted +extension with a delimiter", "\"agent+x\"@Example.net.", "+", enforce, dispatch, "agent@example.net",
       "agent@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"+extension with its own mailbox row", "agent+own@example.net", "+", enforce, dispatch,
       "agent+own@example.net", "agent+own@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"+extension of an unprotected base", "human+x@example.net", "+", enforce, dispatch, "human+x@example.net", "",
       Protection::none, IntentCheck::none},
      {"domain mailbox", "Any.Agent@Agents.Example.NET", "", enforce, dispatch, "any.agent@agents.example.net",
       "@agents.example.net", Protection::enforce, IntentCheck::sender_policy},
      {"not protected", "human@example.net", "", enforce, dispatch, "human@example.net", "", Protection::none,
       IntentCheck::none},
      {"mailbox mode off", "asleep@example.net", "", enforce, dispatch, "asleep@example.net", "asleep@example.net",
       Protection::off, IntentCheck::none},
      {"mailbox mode report", "quiet@example.net", "", enforce, dispatch, "quiet@example.net", "quiet@example.net",
       Protection::report, IntentCheck::sender_policy},
      {"global Mode report", "agent@example.net", "", EnforcementMode::report, dispatch, "agent@example.net",
       "agent@example.net", Protection::report, IntentCheck::sender_policy},
      {"guarded intent card.query", "agent@example.net", "", enforce, Intent::card_query, "agent@example.net",
       "agent@example.net", Protection::enforce, IntentCheck::sender_policy},
      {"unguarded intent task.result", "agent@example.net", "", enforce, Intent::task_result, "agent@example.net",
       "agent@example.net", Protection::enforce, IntentCheck::none},
      {"a mailbox that guards nothing", "open@example.net", "", enforce, dispatch, "open@example.net",
       "open@example.net", Protection::enforce, IntentCheck::none},
      {"pair.request bypasses sender policy", "agent@example.net", "", enforce, Intent::pair_request,
       "agent@example.net", "agent@example.net", Protection::enforce, IntentCheck::pairing},
      {"pair.request to a mailbox that guards nothing", "open@example.net", "", enforce, Intent::pair_request,
       "open@example.net", "open@example.net", Protection::enforce, IntentCheck::pairing},
      {"no valid intent", "agent@example.net", "", enforce, std::nullopt, "agent@example.net", "agent@example.net",
       Protection::enforce, IntentCheck::none},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Policy policy;
    policy.mode = row.mode;
    policy.recipient_delimiters = row.delimiters;
    const RecipientJudgement j = judge_recipient(store, policy, row.recipient, row.intent);
    EXPECT_EQ(j.address, row.want_address);
    EXPECT_EQ(j.mailbox ? j.mailbox->address : "", row.want_mailbox);
    EXPECT_EQ(j.protection, row.want_protection);
    EXPECT_EQ(j.check, row.want_check);
  }
}

TEST(JudgeRecipient, StoreErrorsPassThrough) {
  test::MemoryStore store;
  store.fail_next(StoreErrorKind::busy, "find_mailbox");
  EXPECT_THROW(judge_recipient(store, Policy{}, "agent@example.net", Intent::task_dispatch), StoreError);
}

}  // namespace
}  // namespace aamp
