// thread_binding_test.cpp — issue 15's rules through the engine, against MemoryStore with a
// fixed clock: the registry a delivered message writes, the binding rules that read it
// (thread hijack, not a party, unknown threads), the party as the trust bases show it,
// per-recipient de-duplication by Message-ID, and the modes report and off.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy/engine.hpp"
#include "policy/thread_binding.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/memory_store.hpp"

namespace aamp {
namespace {

using test::aamp_headers;
using test::facts_for;

constexpr const char* kAgent = "agent@example.net";       // a protected agent
constexpr const char* kDana = "dana@example.net";         // a protected, local dispatcher
constexpr const char* kAlice = "alice@example.com";       // allowed to dispatch to the agent
constexpr const char* kCarol = "carol@example.com";       // allowed too: another dispatcher
constexpr const char* kBot = "bot@partner.example";       // the remote agent dana dispatches to
constexpr const char* kMallory = "mallory@partner.example";

class ThreadBinding : public ::testing::Test {
 protected:
  void SetUp() override {
    policy.authserv_id = "mx.example.net";
    ProtectedMailbox agent;
    agent.address = kAgent;
    const auto agent_id = store.add_mailbox(agent);
    for (const char* pattern : {kAlice, kCarol}) allow(agent_id, pattern);
    dana_with([](ProtectedMailbox&) {});
  }

  void allow(std::int64_t mailbox_id, const std::string& pattern) {
    SenderRule r;
    r.mailbox_id = mailbox_id;
    r.pattern = pattern;
    store.add_rule(r);
  }
  // Dana's mailbox (again), as `change` leaves it, taking mail from partner.example.
  void dana_with(const std::function<void(ProtectedMailbox&)>& change) {
    if (dana_id != 0) store.remove_mailbox(dana_id);
    ProtectedMailbox dana;
    dana.address = kDana;
    change(dana);
    dana_id = store.add_mailbox(dana);
    allow(dana_id, "@partner.example");
  }

  // `intent` from `from` (authenticated as itself unless `authenticated` is false) to `to`.
  MessageFacts message(const std::string& intent, const std::string& from, const std::string& to,
                       const std::string& task_id, bool authenticated = true) {
    auto headers = aamp_headers(intent, from, task_id);
    // What the intent requires besides (validator.cpp).
    if (intent == "task.result" || intent == "pair.respond") headers.push_back({"X-AAMP-Status", "completed"});
    if (intent == "task.stream.opened") headers.push_back({"X-AAMP-Stream-Id", "s1"});
    if (intent == "pair.request") headers.push_back({"X-AAMP-Pair-Code", "ABCD-EFGH"});
    auto f = facts_for(std::move(headers), {to}, from);
    if (authenticated) f.auth_user = from;
    return f;
  }
  Decision run(const MessageFacts& f) { return decide(f, EngineContext{policy, store, clock, rng}); }
  static std::string verdict(const Decision& d) {
    return d.recipients.empty() || !d.recipients[0].verdict ? "" : std::string(to_string(*d.recipients[0].verdict));
  }
  std::string last_audit_reason() const { return store.audit().back().reason; }

  std::int64_t dana_id = 0;
  Policy policy;
  test::MemoryStore store;
  test::FixedClock clock;
  test::CountingRng rng;
};

TEST_F(ThreadBinding, ADispatchStartsAThreadOnlyItsDispatcherContinues) {
  auto d = run(message("task.dispatch", kAlice, kAgent, "T1"));
  EXPECT_EQ(d.action, Action::accept);
  const auto entry = store.thread_at(ThreadKind::task, kAgent, "T1");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->initiator, kAlice);
  EXPECT_EQ(entry->created_at, clock.now());
  EXPECT_EQ(entry->expires_at, clock.now() + policy.thread_retention);

  // Another allowed dispatcher on alice's TaskId: a hijack, refused and named.
  d = run(message("task.dispatch", kCarol, kAgent, "T1"));
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(verdict(d), "thread-hijack");
  ASSERT_TRUE(d.reply);
  EXPECT_EQ(d.reply->code, "550");
  EXPECT_NE(d.reply->text.find("belongs to another dispatcher"), std::string::npos) << d.reply->text;
  EXPECT_EQ(d.reply->text.find(kAlice), std::string::npos) << "the reply names the thread's owner: " << d.reply->text;
  EXPECT_NE(last_audit_reason().find(kAlice), std::string::npos) << last_audit_reason();
  EXPECT_EQ(store.thread_at(ThreadKind::task, kAgent, "T1")->initiator, kAlice);  // unchanged

  // Alice again: a follow-up in her thread (AAMP §6.1).
  d = run(message("task.dispatch", kAlice, kAgent, "T1"));
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_NE(last_audit_reason().find("follow-up"), std::string::npos) << last_audit_reason();
  // Carol's own TaskId is hers.
  EXPECT_EQ(run(message("task.dispatch", kCarol, kAgent, "T2")).action, Action::accept);
}

TEST_F(ThreadBinding, OnlyTheDispatcherCancels) {
  run(message("task.dispatch", kAlice, kAgent, "T1"));
  auto d = run(message("task.cancel", kCarol, kAgent, "T1"));
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(verdict(d), "not-party");
  d = run(message("task.cancel", kAlice, kAgent, "T1"));
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(verdict(d), "allow");
}

TEST_F(ThreadBinding, ALocalDispatchersResultsComeOnlyFromItsAgent) {
  // Dana (local: SMTP AUTH) dispatches to a remote agent: the thread is recorded though the
  // recipient is not protected here.
  EXPECT_EQ(run(message("task.dispatch", kDana, kBot, "T9")).action, Action::accept);
  const auto started = store.threads_started_by(ThreadKind::task, kDana, "T9");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].peer, kBot);

  // Every answer of the thread from a stranger is refused; the agent's own pass.
  for (const char* intent : {"task.ack", "task.help_needed", "task.stream.opened", "task.result"}) {
    auto d = run(message(intent, kMallory, kDana, "T9"));
    EXPECT_EQ(d.action, Action::reject) << intent;
    EXPECT_EQ(verdict(d), "not-party") << intent;
    EXPECT_NE(last_audit_reason().find(kBot), std::string::npos) << last_audit_reason();
    d = run(message(intent, kBot, kDana, "T9"));
    EXPECT_EQ(d.action, Action::accept) << intent;
    EXPECT_EQ(verdict(d), "allow") << intent;
  }
}

TEST_F(ThreadBinding, AFromThatShowsNoTrustIsNobodysWhateverItClaims) {
  // Dana's mailbox takes mail from anyone (trust none), so sender policy lets an
  // unauthenticated message claiming to be the bot through; binding does not.
  dana_with([](ProtectedMailbox& m) { m.trust = 0; });
  run(message("task.dispatch", kDana, kBot, "T9"));
  const auto d = run(message("task.result", kBot, kDana, "T9", /*authenticated=*/false));
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(verdict(d), "not-party");
  EXPECT_NE(last_audit_reason().find("shows none of the mailbox's trust bases"), std::string::npos)
      << last_audit_reason();
}

TEST_F(ThreadBinding, AnswersOnlyToTheRequestTheRecipientSent) {
  // Dana asked the bot for pairing and a card; only the bot answers.
  run(message("pair.request", kDana, kBot, "P1"));
  run(message("card.query", kDana, kBot, "C1"));
  EXPECT_EQ(verdict(run(message("pair.respond", kMallory, kDana, "P1"))), "not-party");
  EXPECT_EQ(verdict(run(message("card.response", kMallory, kDana, "C1"))), "not-party");
  EXPECT_EQ(verdict(run(message("pair.respond", kBot, kDana, "P1"))), "allow");
  EXPECT_EQ(verdict(run(message("card.response", kBot, kDana, "C1"))), "allow");
  // A pair thread is not a card thread.
  EXPECT_EQ(verdict(run(message("card.response", kBot, kDana, "P1"))), "allow");  // unknown: allowed by default
  EXPECT_NE(last_audit_reason().find("unknown to the registry"), std::string::npos) << last_audit_reason();
}

TEST_F(ThreadBinding, UnknownThreadsAllowOrRefuse) {
  auto d = run(message("task.result", kBot, kDana, "never-seen"));
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_NE(last_audit_reason().find("unknown to the registry: allowed (UnknownThreads allow)"), std::string::npos)
      << last_audit_reason();
  policy.unknown_threads = UnknownThreads::refuse;
  d = run(message("task.result", kBot, kDana, "never-seen"));
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(verdict(d), "unknown-thread");
  // The mailbox's own setting wins over the global one.
  dana_with([](ProtectedMailbox& m) { m.unknown_threads = UnknownThreads::allow; });
  EXPECT_EQ(run(message("task.result", kBot, kDana, "never-seen")).action, Action::accept);
}

TEST_F(ThreadBinding, ReportModeRefusesNothingAndAuditsEverything) {
  policy.thread_binding = MailboxMode::report;
  run(message("task.dispatch", kAlice, kAgent, "T1"));
  auto d = run(message("task.dispatch", kCarol, kAgent, "T1"));
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(store.audit().back().verdict, AuditVerdict::report_thread_hijack);
  const auto f = message("task.dispatch", kAlice, kAgent, "T1");
  run(f);
  d = run(f);  // the same message again
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_TRUE(d.delete_recipients.empty());
  EXPECT_EQ(store.audit().back().verdict, AuditVerdict::report_duplicate);
}

TEST_F(ThreadBinding, OffChecksNothingButStillRecords) {
  policy.thread_binding = MailboxMode::off;
  run(message("task.dispatch", kAlice, kAgent, "T1"));
  EXPECT_TRUE(store.thread_at(ThreadKind::task, kAgent, "T1"));
  EXPECT_EQ(run(message("task.dispatch", kCarol, kAgent, "T1")).action, Action::accept);
  const auto f = message("task.dispatch", kAlice, kAgent, "T1");
  EXPECT_EQ(verdict(run(f)), "allow");
  EXPECT_EQ(verdict(run(f)), "allow");  // no de-duplication either
}

TEST_F(ThreadBinding, TheSameMessageIsDeliveredOncePerRecipient) {
  auto f = message("task.dispatch", kAlice, kAgent, "T1");
  f.recipients = {kAgent, "someone@elsewhere.example"};
  auto d = run(f);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_TRUE(d.delete_recipients.empty());
  // Again (an MTA retry after a lost 250): removed for the protected recipient only.
  d = run(f);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(d.delete_recipients, (std::vector<std::string>{kAgent}));
  EXPECT_EQ(verdict(d), "duplicate");
  EXPECT_NE(last_audit_reason().find("was delivered to"), std::string::npos) << last_audit_reason();
  // To the agent alone: nobody left, the message is dropped with a 250.
  f.recipients = {kAgent};
  d = run(f);
  EXPECT_EQ(d.action, Action::discard);
  // A refused copy was never delivered: it is no duplicate of anything.
  auto g = message("task.dispatch", kMallory, kAgent, "T5");
  EXPECT_EQ(run(g).action, Action::reject);
  EXPECT_EQ(verdict(run(g)), "deny");
}

TEST_F(ThreadBinding, AFailedRegistryWriteTempfailsAndTheRetryIsDelivered) {
  allow(dana_id, kAlice);
  auto f = message("task.dispatch", kAlice, kAgent, "T1");
  f.recipients = {kAgent, kDana};  // two protected recipients: two deliveries to record
  store.fail_next(StoreErrorKind::unavailable, "record_registry");
  auto d = run(f);
  EXPECT_EQ(d.action, Action::tempfail);
  EXPECT_FALSE(store.thread_at(ThreadKind::task, kAgent, "T1"));
  EXPECT_TRUE(store.audit().empty()) << "the audit rows are committed with the registry entries, or neither";
  // The MTA retries the same message: delivered to both, no duplicate.
  d = run(f);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_TRUE(d.delete_recipients.empty());
  for (const auto& r : d.recipients) EXPECT_EQ(to_string(*r.verdict), "allow") << r.recipient;
  EXPECT_EQ(store.audit().size(), 2U);
}

TEST_F(ThreadBinding, APairRequestIsNeverADuplicate) {
  const auto f = message("pair.request", kBot, kAgent, "P1");
  run(f);
  const auto d = run(f);
  EXPECT_NE(verdict(d), "duplicate");
}

}  // namespace
}  // namespace aamp
