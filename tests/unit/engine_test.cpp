// engine_test.cpp — the engine as tables: facts in, Decision out, against MemoryStore with
// a fixed clock. One behaviour per row.
#include "policy/engine.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "policy/encodings.hpp"
#include "policy/trust.hpp"
#include "tests/support/fixtures.hpp"
#include "tests/support/memory_store.hpp"

namespace aamp {
namespace {

using test::aamp_headers;
using test::facts_for;

constexpr const char* kAgent = "agent@example.net";
constexpr const char* kAgent2 = "agent2@example.net";
constexpr const char* kHuman = "bob@example.net";

SenderRule rule(std::int64_t mailbox_id, const std::string& pattern, ContextRules context = {}) {
  SenderRule r;
  r.mailbox_id = mailbox_id;
  r.pattern = pattern;
  r.context = std::move(context);
  return r;
}

ProtectedMailbox mailbox(const std::string& address, MailboxMode mode = MailboxMode::enforce) {
  ProtectedMailbox m;
  m.address = address;
  m.mode = mode;
  return m;
}

class EngineTest : public ::testing::Test {
 protected:
  // A fresh, empty store.
  void reset() { store = std::make_unique<test::MemoryStore>(); }

  void SetUp() override {
    reset();
    policy = Policy{};
    policy.authserv_id = "mx.example.net";
    policy.trusted_authserv_ids = {"border.example.net"};
    policy.internal_hosts = {*parse_cidr("10.0.0.0/8"), *parse_cidr("2001:db8::/32")};
    agent_id = store->add_mailbox(mailbox(kAgent));
    agent2_id = store->add_mailbox(mailbox(kAgent2));
    rule_id = store->add_rule(rule(agent_id, "alice@example.com"));
    store->add_rule(rule(agent2_id, "@partner.example", {{"project", {"p1", "p2"}}}));
  }

  Decision run(const MessageFacts& f) { return decide(f, EngineContext{policy, *store, clock, rng}); }

  // An authenticated dispatch from alice to `rcpts`.
  MessageFacts dispatch(std::vector<std::string> rcpts, const std::string& from = "alice@example.com") {
    auto f = facts_for(aamp_headers("task.dispatch", from), std::move(rcpts), from);
    f.auth_user = from;
    return f;
  }

  Policy policy;
  std::unique_ptr<test::MemoryStore> store;
  test::FixedClock clock;
  test::CountingRng rng;
  std::int64_t agent_id = 0, agent2_id = 0, rule_id = 0;
};

std::string header_value(const Decision& d, const std::string& name) {
  for (const auto& h : d.add_headers)
    if (h.name == name) return h.value;
  return {};
}

// ---------------------------------------------------------------------------------------
// Trust paths and sender policy, one row each.

struct TrustRow {
  const char* label;
  std::function<void(MessageFacts&, Policy&)> tweak;
  Action want_action;
  const char* want_verdict;
  const char* want_in_reply;  // substring of the SMTP reply text, "" when accepted
};

TEST_F(EngineTest, TrustPathsAndSenderPolicy) {
  const std::vector<TrustRow> rows = {
      {"auth login equals From", [](MessageFacts&, Policy&) {}, Action::accept, "allow", ""},
      {"auth login case differs", [](MessageFacts& f, Policy&) { f.auth_user = "Alice@Example.COM"; },
       Action::accept, "allow", ""},
      {"no trust at all", [](MessageFacts& f, Policy&) { f.auth_user.clear(); }, Action::reject, "untrusted",
       "is not authenticated"},
      {"auth login may not use From", [](MessageFacts& f, Policy&) { f.auth_user = "mallory@example.com"; },
       Action::reject, "untrusted", "authenticated as mallory@example.com, which may not send as alice@example.com"},
      {"login grant allows From",
       [](MessageFacts& f, Policy& p) {
         f.auth_user = "relay-user";
         p.login_grants = {{"relay-user", {*parse_sender_pattern("@example.com")}}};
       },
       Action::accept, "allow", ""},
      {"internal IPv4 host",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.client_addr = "10.1.2.3";
       },
       Action::accept, "allow", ""},
      {"internal IPv6 host",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.client_addr = "2001:db8::25";
       },
       Action::accept, "allow", ""},
      {"IPv4-mapped internal host",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.client_addr = "::ffff:10.9.9.9";
       },
       Action::accept, "allow", ""},
      {"trusted dkim pass aligned",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.headers.insert(f.headers.begin(), {"Authentication-Results",
                                              "border.example.net; dkim=pass header.d=example.com header.s=s1"});
       },
       Action::accept, "allow", ""},
      {"trusted dkim pass from parent domain signer",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.headers.insert(f.headers.begin(),
                          {"Authentication-Results", "border.example.net; dkim=pass (good) header.d=mail.example.com"});
       },
       Action::accept, "allow", ""},
      {"trusted dmarc pass",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.headers.insert(f.headers.begin(),
                          {"Authentication-Results", "border.example.net; dmarc=pass header.from=example.com"});
       },
       Action::accept, "allow", ""},
      {"dkim pass unaligned",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.headers.insert(f.headers.begin(),
                          {"Authentication-Results", "border.example.net; dkim=pass header.d=evil.example"});
       },
       Action::reject, "untrusted", "is not authenticated"},
      {"dkim fail",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.headers.insert(f.headers.begin(),
                          {"Authentication-Results", "border.example.net; dkim=fail header.d=example.com"});
       },
       Action::reject, "untrusted", "is not authenticated"},
      {"dkim pass from an untrusted authserv-id",
       [](MessageFacts& f, Policy&) {
         f.auth_user.clear();
         f.headers.insert(f.headers.begin(),
                          {"Authentication-Results", "someone.example; dkim=pass header.d=example.com"});
       },
       Action::reject, "untrusted", "is not authenticated"},
      {"forged verdict of ours does not count",
       [](MessageFacts& f, Policy& p) {
         f.auth_user.clear();
         p.trusted_authserv_ids.push_back("mx.example.net");
         f.headers.insert(f.headers.begin(),
                          {"Authentication-Results", "mx.example.net; dkim=pass header.d=example.com"});
       },
       Action::reject, "untrusted", "is not authenticated"},
      {"unknown sender", [](MessageFacts& f, Policy&) {
         f = facts_for(aamp_headers("task.dispatch", "carol@example.com"), {kAgent}, "carol@example.com");
         f.auth_user = "carol@example.com";
       },
       Action::reject, "deny", "carol@example.com may not send task.dispatch to agent@example.net: no sender rule"},
      {"stale dispatch",
       [](MessageFacts& f, Policy&) { f.headers.push_back({"X-AAMP-Expires-At", "2020-01-01T00:00:00Z"}); },
       Action::reject, "stale", "stale task.dispatch: it expired at 2020-01-01T00:00:00Z"},
      {"stale dispatch allowed when StaleDispatch is off",
       [](MessageFacts& f, Policy& p) {
         p.reject_stale_dispatch = false;
         f.headers.push_back({"X-AAMP-Expires-At", "2020-01-01T00:00:00Z"});
       },
       Action::accept, "allow", ""},
      {"future expiry is fine",
       [](MessageFacts& f, Policy&) { f.headers.push_back({"X-AAMP-Expires-At", "2099-01-01T00:00:00+02:00"}); },
       Action::accept, "allow", ""},
      {"malformed message", [](MessageFacts& f, Policy&) { f.headers.push_back({"X-AAMP-Priority", "asap"}); },
       Action::reject, "invalid", ""},
      {"intent without sender policy",
       [](MessageFacts& f, Policy&) {
         f = facts_for(aamp_headers("task.ack", "stranger@example.org"), {kAgent}, "stranger@example.org");
       },
       Action::accept, "allow", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    SetUp();  // a fresh store per row
    auto f = dispatch({kAgent});
    Policy saved = policy;
    row.tweak(f, policy);
    const Decision d = run(f);
    EXPECT_EQ(d.action, row.want_action);
    EXPECT_EQ(to_string(d.verdict), row.want_verdict);
    if (row.want_action == Action::reject) {
      ASSERT_TRUE(d.reply.has_value());
      EXPECT_EQ(d.reply->code, std::string(row.want_verdict) == "invalid" ? "554" : "550");
      EXPECT_EQ(d.reply->xcode, std::string(row.want_verdict) == "invalid" ? "5.6.0" : "5.7.1");
      EXPECT_NE(d.reply->text.find(row.want_in_reply), std::string::npos) << d.reply->text;
    } else {
      EXPECT_FALSE(d.reply.has_value());
      EXPECT_NE(header_value(d, "Authentication-Results").find("mx.example.net; aamp=pass"), std::string::npos);
    }
    ASSERT_EQ(store->audit().size(), 1u);
    EXPECT_EQ(to_string(store->audit()[0].verdict), row.want_verdict);
    EXPECT_EQ(store->audit()[0].recipient, kAgent);
    policy = saved;
  }
}

TEST_F(EngineTest, MailboxThatRequiresNoTrustAcceptsAnAllowedSenderWithoutAuth) {
  reset();
  ProtectedMailbox open = mailbox("open@example.net");
  open.trust = 0;  // no trust basis required
  const auto open_id = store->add_mailbox(open);
  store->add_rule(rule(open_id, "*"));
  auto f = facts_for(aamp_headers("task.dispatch"), {"open@example.net"});
  EXPECT_EQ(run(f).action, Action::accept);
}

TEST_F(EngineTest, AllowedDispatchNamesTheRuleInTheVerdictHeader) {
  const Decision d = run(dispatch({kAgent}));
  const std::string ar = header_value(d, "Authentication-Results");
  EXPECT_EQ(ar, "mx.example.net; aamp=pass header.from=alice@example.com policy.intent=task.dispatch "
                "policy.rcpt=agent@example.net policy.rule=" + std::to_string(rule_id) +
                " policy.origin=configured policy.trust=auth");
  EXPECT_EQ(store->audit()[0].rule_id, rule_id);
}

TEST_F(EngineTest, DispatchContextMustSatisfyTheRule) {
  struct Row {
    const char* label;
    const char* context;  // "" = no header
    Action want;
  };
  const std::vector<Row> rows = {
      {"allowed value", "project=p1", Action::accept},
      {"other allowed value plus extra key", "project=p2; source=ci", Action::accept},
      {"value not allowed", "project=p3", Action::reject},
      {"key missing", "source=ci", Action::reject},
      {"no context at all", "", Action::reject},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    auto f = dispatch({kAgent2}, "dev@partner.example");
    if (*row.context) f.headers.push_back({"X-AAMP-Dispatch-Context", row.context});
    const Decision d = run(f);
    EXPECT_EQ(d.action, row.want);
    if (row.want == Action::reject) {
      EXPECT_NE(d.reply->text.find("dispatch context"), std::string::npos);
    }
  }
}

// ---------------------------------------------------------------------------------------
// What is not ours to decide.

TEST_F(EngineTest, NonAampMailPassesUntouchedWithoutTouchingTheStore) {
  auto f = facts_for({{"From", "x@example.com"}, {"Subject", "hi"}}, {kAgent});
  const Decision d = run(f);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_FALSE(d.aamp);
  EXPECT_TRUE(d.add_headers.empty());
  EXPECT_TRUE(d.delete_headers.empty());
  EXPECT_TRUE(d.delete_recipients.empty());
  EXPECT_EQ(store->calls("find_mailbox"), 0);
  EXPECT_TRUE(store->audit().empty());
  EXPECT_FALSE(needs_decision(f.headers, policy));
}

TEST_F(EngineTest, ForgedVerdictsOfOursAreRemovedHighestIndexFirst) {
  auto f = dispatch({kAgent});
  f.headers.insert(f.headers.begin(), {"Authentication-Results", "mx.example.net; aamp=pass policy.rule=1"});
  f.headers.insert(f.headers.begin() + 1, {"authentication-results", "other.example; spf=pass"});
  f.headers.push_back({"Authentication-Results", " MX.example.net (forged); dkim=pass header.d=example.com"});
  EXPECT_TRUE(needs_decision(f.headers, policy));
  const Decision d = run(f);
  ASSERT_EQ(d.delete_headers.size(), 2u);
  EXPECT_EQ(d.delete_headers[0].index, 3);
  EXPECT_EQ(d.delete_headers[1].index, 1);
  EXPECT_EQ(d.action, Action::accept);
}

TEST_F(EngineTest, ForgedVerdictIsRemovedFromNonAampMailToo) {
  auto f = facts_for({{"From", "x@example.com"}, {"Authentication-Results", "mx.example.net; aamp=pass"}}, {kHuman});
  EXPECT_TRUE(needs_decision(f.headers, policy));
  const Decision d = run(f);
  ASSERT_EQ(d.delete_headers.size(), 1u);
  EXPECT_TRUE(d.add_headers.empty());
}

// Plain mail carrying a spelling of our verdict that a reader could take as ours: the cheap
// look at end of headers asks for a decision, and the decision removes it.
TEST_F(EngineTest, EveryForgedSpellingIsRemovedFromPlainMail) {
  struct Row {
    const char* label;
    const char* value;
    bool forged;
  };
  const Row rows[] = {
      {"encoded-word", "=?utf-8?q?mx.example.net?=; aamp=pass", true},
      {"vertical tab", "mx.example.net\x0b; aamp=pass", true},
      {"NBSP", "mx.example.net\xc2\xa0; aamp=pass", true},
      {"trailing dot", "mx.example.net.; aamp=pass", true},
      {"blank", "", true},
      {"another verifier", "border.example.net; dkim=pass header.d=example.com", false},
      {"ours with a suffix", "mx.example.net.evil; aamp=pass", false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.label);
    auto f = facts_for({{"From", "x@example.com"}, {"Authentication-Results", r.value}}, {kHuman});
    EXPECT_EQ(needs_decision(f.headers, policy), r.forged);
    const Decision d = run(f);
    EXPECT_EQ(d.action, Action::accept);
    EXPECT_EQ(d.delete_headers.size(), r.forged ? 1u : 0u);
  }
}

TEST_F(EngineTest, AampMailToUnprotectedRecipientsIsNotEnforced) {
  auto f = facts_for(aamp_headers("task.dispatch", "nobody@example.org"), {kHuman}, "nobody@example.org");
  const Decision d = run(f);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(to_string(d.verdict), "unprotected");
  EXPECT_TRUE(d.add_headers.empty());
  EXPECT_TRUE(store->audit().empty());
}

TEST_F(EngineTest, MailboxModeOffIsNotEnforced) {
  reset();
  store->add_mailbox(mailbox(kAgent, MailboxMode::off));
  auto f = facts_for(aamp_headers("task.dispatch", "nobody@example.org"), {kAgent}, "nobody@example.org");
  EXPECT_EQ(run(f).action, Action::accept);
  EXPECT_TRUE(store->audit().empty());
}

// Postfix 3.7 delivered each of these to agent@example.test while the milter saw the
// recipient as written and found no protected mailbox (tests/corpus 397-399).
TEST_F(EngineTest, RecipientSpellingsThatReachTheMailboxAreProtected) {
  for (const char* rcpt : {"<agent@example.net.>", "<\"agent\"@example.net>", "<\"ag\\ent\"@example.net>",
                           "<@relay.example:agent@example.net>", "<@a.example,@b.example:Agent@Example.NET.>"}) {
    SCOPED_TRACE(rcpt);
    SetUp();
    const Decision d = run(dispatch({rcpt}, "carol@example.com"));
    EXPECT_EQ(d.action, Action::reject);
    EXPECT_EQ(to_string(d.verdict), "deny");
    ASSERT_EQ(store->audit().size(), 1u);
    EXPECT_EQ(store->audit()[0].recipient, kAgent);
  }
  // With a recipient that is allowed, the refused spelling is removed as the MTA gave it.
  SetUp();
  const Decision d = run(dispatch({kHuman, "<\"agent\"@example.net.>"}, "carol@example.com"));
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(d.delete_recipients, std::vector<std::string>{"<\"agent\"@example.net.>"});
}

TEST_F(EngineTest, DomainMailboxProtectsEveryAddressOfTheDomain) {
  reset();
  store->add_mailbox(mailbox("@agents.example.net"));
  auto f = facts_for(aamp_headers("task.dispatch"), {"<Any.Agent@Agents.Example.NET>"});
  f.auth_user = "alice@example.com";
  const Decision d = run(f);
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(to_string(d.verdict), "deny");
}

TEST_F(EngineTest, RecipientDelimiterExtendsProtectionToAddressExtensions) {
  struct Row {
    const char* label;
    const char* delimiters;
    const char* rcpt;
    const char* from;
    Action want;
    const char* want_audit_rcpt;  // "" = not protected, no audit row
  };
  const std::vector<Row> rows = {
      {"no delimiter configured: an extension is another address", "", "agent+x@example.net", "carol@example.com",
       Action::accept, ""},
      {"extension of a protected mailbox: unknown sender refused", "+", "agent+x@example.net", "carol@example.com",
       Action::reject, "agent@example.net"},
      {"extension of a protected mailbox: allowed sender", "+", "agent+x@example.net", "alice@example.com",
       Action::accept, "agent@example.net"},
      {"second delimiter character", "+-", "agent-x@example.net", "carol@example.com", Action::reject,
       "agent@example.net"},
      {"a row for the exact extended address wins", "+", "agent+open@example.net", "carol@example.com",
       Action::accept, "agent+open@example.net"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    SetUp();
    ProtectedMailbox open = mailbox("agent+open@example.net");
    open.trust = 0;
    store->add_rule(rule(store->add_mailbox(open), "*"));
    policy.recipient_delimiters = row.delimiters;
    const Decision d = run(dispatch({row.rcpt}, row.from));
    EXPECT_EQ(d.action, row.want);
    if (*row.want_audit_rcpt) {
      ASSERT_EQ(store->audit().size(), 1u);
      EXPECT_EQ(store->audit()[0].recipient, row.want_audit_rcpt);
    } else {
      EXPECT_TRUE(store->audit().empty());
    }
  }
}

// ---------------------------------------------------------------------------------------
// Several recipients.

TEST_F(EngineTest, MultiRecipientSplits) {
  struct Row {
    const char* label;
    std::vector<std::string> rcpts;
    Action want;
    std::vector<std::string> want_removed;
  };
  const std::vector<Row> rows = {
      {"allowed + refused: refused removed", {kAgent, kAgent2}, Action::accept, {kAgent2}},
      {"refused + unprotected: refused removed", {kAgent2, kHuman}, Action::accept, {kAgent2}},
      {"every recipient refused: reject", {kAgent2, "<agent2@example.net>"}, Action::reject, {}},
      {"allowed + unprotected: nothing removed", {kAgent, kHuman}, Action::accept, {}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const Decision d = run(dispatch(row.rcpts));
    EXPECT_EQ(d.action, row.want);
    EXPECT_EQ(d.delete_recipients, row.want_removed);
    if (row.want == Action::accept && !row.want_removed.empty()) {
      // The verdict header speaks only of the recipients that get the mail.
      EXPECT_EQ(header_value(d, "Authentication-Results").find(row.want_removed[0]), std::string::npos);
    }
  }
}

// Stalwart sends a reply text to the client verbatim: the '%' that for_milter_reply doubles
// for libmilter would show as "%%". So no reply text the engine makes holds a '%'.
TEST_F(EngineTest, ReplyTextsNeverHoldAPercent) {
  struct Row {
    const char* label;
    MessageFacts facts;
    Action want;
  };
  const std::vector<Row> rows = {
      {"denied sender echoed", dispatch({kAgent}, "100%-sure@example.org"), Action::reject},
      {"unknown intent echoed", facts_for(aamp_headers("task.%d", "alice@example.com"), {kAgent}, "alice@example.com"),
       Action::reject},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const Decision d = run(row.facts);
    EXPECT_EQ(d.action, row.want);
    ASSERT_TRUE(d.reply);
    EXPECT_EQ(d.reply->text.find('%'), std::string::npos) << d.reply->text;
    EXPECT_NE(d.reply->text.find('?'), std::string::npos) << d.reply->text;  // the '%' it replaced
  }
}

// A message is never left with zero recipients by smfi_delrcpt (Stalwart would store it and
// never deliver it): when every recipient goes, the answer is REJECT or DISCARD.
TEST_F(EngineTest, EveryRecipientGoneIsRejectedOrDiscardedNeverEmptied) {
  struct Row {
    const char* label;
    Action on_deny;
    std::vector<std::string> rcpts;
    Action want;
    std::vector<std::string> want_removed;
  };
  const std::vector<Row> rows = {
      {"deny is discard, one recipient", Action::discard, {kAgent2}, Action::discard, {}},
      {"deny is discard, listed twice", Action::discard, {kAgent2, "<AGENT2@example.net>"}, Action::discard, {}},
      {"deny is discard, allowed one kept", Action::discard, {kAgent, kAgent2}, Action::accept, {kAgent2}},
      {"deny is reject, every recipient", Action::reject, {kAgent2, "<agent2@example.net>"}, Action::reject, {}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    policy.on.policy_deny = row.on_deny;
    const Decision d = run(dispatch(row.rcpts));
    EXPECT_EQ(d.action, row.want);
    EXPECT_EQ(d.delete_recipients, row.want_removed);
  }
}

// ---------------------------------------------------------------------------------------
// Report mode and failure actions.

TEST_F(EngineTest, ReportModeBlocksNothingButAuditsWhatItWouldDo) {
  struct Row {
    const char* label;
    bool global;
  };
  for (const Row& row : {Row{"global report mode", true}, Row{"mailbox in report mode", false}}) {
    SCOPED_TRACE(row.label);
    reset();
    policy.mode = row.global ? EnforcementMode::report : EnforcementMode::enforce;
    store->add_mailbox(mailbox(kAgent, row.global ? MailboxMode::enforce : MailboxMode::report));
    auto f = dispatch({kAgent}, "carol@example.com");
    const Decision d = run(f);
    EXPECT_EQ(d.action, Action::accept);
    EXPECT_TRUE(d.delete_recipients.empty());
    EXPECT_NE(header_value(d, "Authentication-Results").find("aamp=fail (report mode: would refuse)"),
              std::string::npos);
    ASSERT_EQ(store->audit().size(), 1u);
    EXPECT_EQ(to_string(store->audit()[0].verdict), "report-deny");
    EXPECT_EQ(to_string(d.verdict), "report-deny");
  }
}

TEST_F(EngineTest, FailureActionsForRefusals) {
  struct Row {
    const char* label;
    Action on_deny;
    Action want;
    const char* want_code;
  };
  const std::vector<Row> rows = {
      {"reject", Action::reject, Action::reject, "550"},
      {"tempfail", Action::tempfail, Action::tempfail, "451"},
      {"quarantine", Action::quarantine, Action::quarantine, ""},
      {"discard", Action::discard, Action::discard, ""},
      {"accept (fail open)", Action::accept, Action::accept, ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    policy.on.policy_deny = row.on_deny;
    const Decision d = run(dispatch({kAgent}, "carol@example.com"));
    EXPECT_EQ(d.action, row.want);
    if (*row.want_code) {
      ASSERT_TRUE(d.reply);
      EXPECT_EQ(d.reply->code, row.want_code);
      if (row.want == Action::tempfail) {
        EXPECT_EQ(d.reply->xcode, "4.7.1");
      }
    } else {
      EXPECT_FALSE(d.reply);
    }
    if (row.want == Action::quarantine) {
      EXPECT_NE(d.quarantine_reason.find("may not send"), std::string::npos);
    }
    if (row.want == Action::accept) {
      EXPECT_NE(header_value(d, "Authentication-Results").find("aamp=fail"), std::string::npos);
    }
  }
}

TEST_F(EngineTest, StoreErrorsTakeTheStoreErrorAction) {
  struct Row {
    const char* label;
    const char* failing_operation;
    Action on_store_error;
    Action want;
  };
  const std::vector<Row> rows = {
      {"lookup fails: tempfail by default", "find_mailbox", Action::tempfail, Action::tempfail},
      {"rules fail", "matching_rules", Action::tempfail, Action::tempfail},
      {"audit write fails", "record_audit", Action::tempfail, Action::tempfail},
      {"fail open when configured", "find_mailbox", Action::accept, Action::accept},
      {"reject when configured", "find_mailbox", Action::reject, Action::reject},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    policy.on.store_error = row.on_store_error;
    store->fail_next(StoreErrorKind::busy, row.failing_operation);
    const Decision d = run(dispatch({kAgent}));
    EXPECT_EQ(d.action, row.want);
    EXPECT_EQ(to_string(d.verdict), "store-error");
    EXPECT_TRUE(d.add_headers.empty());
    if (row.want == Action::tempfail) {
      ASSERT_TRUE(d.reply);
      EXPECT_EQ(d.reply->str(), "451 4.3.0 temporary local problem: policy store unavailable, try again later");
    }
  }
}

// One failure_decision for the engine's faults and the milter's: each kind's words, each
// action, and what of the decision so far survives (the summary facts, never an effect).
TEST(FailureDecision, WordsPerKindAndAction) {
  struct Row {
    const char* label;
    FailureKind kind;
    Action action;
    const char* want_verdict;
    std::optional<std::string> want_reply;
    const char* want_quarantine_reason;
  };
  const std::vector<Row> rows = {
      {"store error, tempfail", FailureKind::store_error, Action::tempfail, "store-error",
       "451 4.3.0 temporary local problem: policy store unavailable, try again later", ""},
      {"store error, reject", FailureKind::store_error, Action::reject, "store-error",
       "554 5.3.0 local problem: policy store unavailable", ""},
      {"store error, fail open", FailureKind::store_error, Action::accept, "store-error", std::nullopt, ""},
      {"store error, quarantine", FailureKind::store_error, Action::quarantine, "store-error", std::nullopt,
       "aamp-milter: db?gone"},
      {"internal error, tempfail", FailureKind::internal_error, Action::tempfail, "internal-error",
       "451 4.3.0 temporary local problem, try again later", ""},
      {"internal error, reject", FailureKind::internal_error, Action::reject, "internal-error",
       "554 5.3.0 local problem in the AAMP policy filter", ""},
      {"internal error, discard", FailureKind::internal_error, Action::discard, "internal-error", std::nullopt, ""},
      {"too large, tempfail", FailureKind::too_large, Action::tempfail, "too-large",
       "451 4.3.0 temporary local problem, try again later", ""},
      {"too large, reject", FailureKind::too_large, Action::reject, "too-large",
       "554 5.6.0 message header block or recipient list too large to check", ""},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    Decision so_far;
    so_far.action = Action::reject;
    so_far.reply = SmtpReply{"550", "5.7.1", "not you"};
    so_far.delete_recipients = {"agent@example.net"};
    so_far.delete_headers = {{"Authentication-Results", 1}};
    so_far.add_headers = {{"Authentication-Results", "mx; aamp=pass"}};
    so_far.aamp = true;
    so_far.intent = "pair.request";
    so_far.recipients = {{"agent@example.net", true, false, AuditVerdict::pair_completed, "pairing completed", std::nullopt}};
    so_far.reply_enqueued = true;
    const Decision d = failure_decision(row.action, row.kind, "db\ngone", so_far);
    EXPECT_EQ(d.action, row.action);
    EXPECT_EQ(to_string(d.verdict), row.want_verdict);
    EXPECT_EQ(d.reply ? std::optional<std::string>(d.reply->str()) : std::nullopt, row.want_reply);
    EXPECT_EQ(d.quarantine_reason, row.want_quarantine_reason);
    EXPECT_EQ(d.reason, "db?gone");  // printable
    EXPECT_TRUE(d.delete_recipients.empty());
    EXPECT_TRUE(d.delete_headers.empty());
    EXPECT_TRUE(d.add_headers.empty());
    EXPECT_TRUE(d.aamp);
    EXPECT_EQ(d.intent, "pair.request");
    EXPECT_EQ(d.recipients.size(), 1u);
    EXPECT_TRUE(d.reply_enqueued);  // the queued pair.respond still wakes the worker
    const Decision fresh = failure_decision(row.action, row.kind, "why");
    EXPECT_FALSE(fresh.aamp);
    EXPECT_TRUE(fresh.recipients.empty());
    EXPECT_EQ(fresh.reason, "why");
  }
}

// ---------------------------------------------------------------------------------------
// Pairing.

class PairingTest : public EngineTest {
 protected:
  MessageFacts pair_request(const std::string& code, const std::string& from = "newbie@example.org") {
    auto h = aamp_headers("pair.request", from, "pair-task-1");
    h.push_back({"X-AAMP-Pair-Code", code});
    auto f = facts_for(std::move(h), {kAgent}, from);
    f.auth_user = from;
    return f;
  }
  static constexpr const char* kCode = "Sup3r-s3cret_code";
};

TEST_F(PairingTest, ValidCodePairsTheRequesterAndQueuesACompletedReply) {
  store->add_pair_code(agent_id, kCode, clock.now() + 300, {{"project", {"p1", "p2"}}});
  auto f = pair_request(kCode);
  f.headers.push_back({"X-AAMP-Dispatch-Context-Rules", encode_context_rules({{"project", {"p2", "p9"}}})});
  const Decision d = run(f);
  EXPECT_EQ(d.action, Action::discard);  // consumed at the MTA (Postfix)
  EXPECT_EQ(to_string(d.verdict), "pair-completed");
  EXPECT_TRUE(d.reply_enqueued);

  const auto outbox = store->outbox();
  ASSERT_EQ(outbox.size(), 1u);
  const OutboxReply& r = outbox[0].reply;
  EXPECT_EQ(r.status, TaskStatus::completed);
  EXPECT_EQ(r.from, kAgent);
  EXPECT_EQ(r.to, "newbie@example.org");
  EXPECT_EQ(r.task_id, "pair-task-1");
  const auto request_id = std::find_if(f.headers.begin(), f.headers.end(), [](const HeaderField& h) { return h.name == "Message-ID"; });
  ASSERT_NE(request_id, f.headers.end());
  EXPECT_EQ(r.in_reply_to, request_id->value);
  EXPECT_EQ(r.message_id.rfind("<aamp-pair.", 0), 0u);
  EXPECT_NE(r.message_id.find("@example.net>"), std::string::npos);

  // The paired rule: the issued rules narrowed by what was forwarded, never widened.
  const auto rules = store->rules();
  const auto paired = std::find_if(rules.begin(), rules.end(), [](const SenderRule& x) { return x.origin == RuleOrigin::paired; });
  ASSERT_NE(paired, rules.end());
  EXPECT_EQ(paired->pattern, "newbie@example.org");
  EXPECT_EQ(paired->context, (ContextRules{{"project", {"p2"}}}));

  ASSERT_EQ(store->audit().size(), 1u);
  EXPECT_EQ(to_string(store->audit()[0].verdict), "pair-completed");
  EXPECT_EQ(store->audit()[0].reason.find(kCode), std::string::npos) << "never the whole code";

  // The newly paired sender may now dispatch with a matching context, not with another.
  auto ok = dispatch({kAgent}, "newbie@example.org");
  ok.headers.push_back({"X-AAMP-Dispatch-Context", "project=p2"});
  EXPECT_EQ(run(ok).action, Action::accept);
  auto bad = dispatch({kAgent}, "newbie@example.org");
  bad.headers.push_back({"X-AAMP-Dispatch-Context", "project=p1"});
  EXPECT_EQ(run(bad).action, Action::reject);
}

TEST_F(PairingTest, ACodeForOneAddressOfADomainMailboxWorksOnlyThere) {
  const auto domain = store->add_mailbox(mailbox("@agents.example.net"));
  store->add_pair_code(domain, kCode, clock.now() + 300, {}, 0, "bot@agents.example.net");
  auto elsewhere = pair_request(kCode);
  elsewhere.recipients = {"other@agents.example.net"};
  EXPECT_EQ(to_string(run(elsewhere).verdict), "pair-rejected");
  EXPECT_EQ(store->outbox().back().reply.error_msg, "unknown pair code");
  auto there = pair_request(kCode);
  there.recipients = {"<Bot@Agents.Example.NET>"};
  EXPECT_EQ(to_string(run(there).verdict), "pair-completed");
}

TEST_F(PairingTest, HowTheHandledRequestLeavesTheMta) {
  struct Row {
    const char* label;
    PairRequestHandling handling;
    std::vector<std::string> rcpts;
    Action want;
    std::vector<std::string> want_removed;
  };
  // One answer for every MTA: Stalwart's DISCARD drops the message as Postfix's does
  // (data.rs:608-611), and a message left with zero recipients would sit in its spool.
  const std::vector<Row> rows = {
      {"consume, sole recipient: discard", PairRequestHandling::consume, {kAgent}, Action::discard, {}},
      {"consume, agent listed twice: discard, never zero recipients", PairRequestHandling::consume,
       {kAgent, "<Agent@Example.NET>"}, Action::discard, {}},
      {"consume with another recipient: remove ours", PairRequestHandling::consume, {kAgent, kHuman}, Action::accept, {kAgent}},
      {"deliver: annotated", PairRequestHandling::deliver, {kAgent}, Action::accept, {}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    policy.pair_requests = row.handling;
    const std::string code = std::string(kCode) + "-" + std::to_string(&row - rows.data());
    store->add_pair_code(agent_id, code, clock.now() + 300);
    auto f = pair_request(code);
    f.recipients = row.rcpts;
    const Decision d = run(f);
    EXPECT_EQ(to_string(d.verdict), "pair-completed");
    EXPECT_EQ(d.action, row.want);
    EXPECT_EQ(d.delete_recipients, row.want_removed);
    if (row.handling == PairRequestHandling::deliver) {
      EXPECT_NE(header_value(d, "Authentication-Results").find("aamp=pass"), std::string::npos);
    }
  }
}

TEST_F(PairingTest, WrongExpiredUsedAndRevokedCodesGetARejectedReply) {
  store->add_pair_code(agent_id, "expired-code-1", clock.now() - 1);
  store->add_pair_code(agent_id, "used-code-1", clock.now() + 300);
  const auto revoked = store->add_pair_code(agent_id, "revoked-code-1", clock.now() + 300);
  store->revoke_pair_code(revoked, clock.now());
  ASSERT_EQ(to_string(run(pair_request("used-code-1")).verdict), "pair-completed");
  struct Row {
    const char* label;
    const char* code;
    const char* want_error;
  };
  const std::vector<Row> rows = {
      {"unknown", "no-such-code", "unknown pair code"},
      {"expired", "expired-code-1", "expired pair code"},
      {"already used", "used-code-1", "pair code already used"},
      {"revoked", "revoked-code-1", "pair code revoked"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const Decision d = run(pair_request(row.code, std::string("req-") + row.label[0] + "@example.org"));
    EXPECT_EQ(to_string(d.verdict), "pair-rejected");
    EXPECT_EQ(d.action, Action::discard);
    const auto outbox = store->outbox();
    EXPECT_EQ(outbox.back().reply.status, TaskStatus::rejected);
    EXPECT_EQ(outbox.back().reply.error_msg, row.want_error);
  }
}

TEST_F(PairingTest, UntrustedRequesterIsRefusedAtSmtpWithoutReplyOrConsumption) {
  store->add_pair_code(agent_id, kCode, clock.now() + 300);
  auto f = pair_request(kCode);
  f.auth_user.clear();
  const Decision d = run(f);
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_EQ(d.reply->str().rfind("550 5.7.1 ", 0), 0u);
  EXPECT_TRUE(store->outbox().empty()) << "no backscatter to forged senders";
  EXPECT_FALSE(store->pair_codes()[0].consumed_at.has_value());
  EXPECT_EQ(to_string(store->audit().at(0).verdict), "untrusted");
}

TEST_F(PairingTest, AutomaticMailAndTheNullSenderAreNeverAnswered) {
  struct Row {
    const char* label;
    std::function<void(MessageFacts&)> tweak;
    bool want_reply;
  };
  const std::vector<Row> rows = {
      {"null sender", [](MessageFacts& f) { f.envelope_from = ""; }, false},
      {"null sender in brackets", [](MessageFacts& f) { f.envelope_from = "<>"; }, false},
      {"auto-replied", [](MessageFacts& f) { f.headers.push_back({"Auto-Submitted", "auto-replied"}); }, false},
      {"auto-generated with comment",
       [](MessageFacts& f) { f.headers.push_back({"Auto-Submitted", "Auto-Generated (bot)"}); }, false},
      {"Auto-Submitted: no", [](MessageFacts& f) { f.headers.push_back({"Auto-Submitted", "No"}); }, true},
      {"no, then auto-replied in a second field",
       [](MessageFacts& f) {
         f.headers.push_back({"Auto-Submitted", "no"});
         f.headers.push_back({"auto-submitted", "auto-replied"});
       },
       false},
      {"empty Auto-Submitted", [](MessageFacts& f) { f.headers.push_back({"Auto-Submitted", ""}); }, false},
  };
  int n = 0;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const std::string code = "code-number-" + std::to_string(++n);
    store->add_pair_code(agent_id, code, clock.now() + 300);
    // Appended, not "r" + a temporary string: GCC 12 at -O3 reports a false -Wrestrict.
    auto f = pair_request(code, std::string("r").append(std::to_string(n)).append("@example.org"));
    row.tweak(f);
    const std::size_t before = store->outbox().size();
    const Decision d = run(f);
    EXPECT_EQ(to_string(d.verdict), "pair-completed");
    EXPECT_EQ(store->outbox().size(), before + (row.want_reply ? 1 : 0));
    EXPECT_EQ(d.reply_enqueued, row.want_reply);
  }
}

TEST_F(PairingTest, SixWrongCodesLockOutWithoutAReplyStorm) {
  for (int i = 1; i <= 5; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(to_string(run(pair_request("wrong-" + std::to_string(i))).verdict), "pair-rejected");
  }
  EXPECT_EQ(store->outbox().size(), 5u);
  store->add_pair_code(agent_id, kCode, clock.now() + 3600);  // outlives the cool-down
  const Decision d = run(pair_request(kCode));  // even the right code, during the cool-down
  EXPECT_EQ(to_string(d.verdict), "pair-locked");
  EXPECT_EQ(d.action, Action::reject);
  EXPECT_NE(d.reply->text.find("too many failed pairing attempts"), std::string::npos);
  EXPECT_EQ(store->outbox().size(), 5u) << "no reply while locked out";
  EXPECT_EQ(to_string(store->audit().back().verdict), "pair-locked");

  clock.advance(policy.pair_limits.lockout + 1);
  EXPECT_EQ(to_string(run(pair_request(kCode)).verdict), "pair-completed");
}

// One pair.request is one attempt per mailbox address (tests/corpus 356, 357).
TEST_F(PairingTest, ARecipientListedTwiceIsPairedOnceAndAnsweredOnce) {
  struct Row {
    const char* label;
    std::vector<std::string> rcpts;
    bool domain;
  };
  const std::vector<Row> rows = {
      {"same address, two spellings", {kAgent, "<Agent@Example.NET>"}, false},
      {"two addresses of one domain mailbox", {"x@agents.example.net", "y@agents.example.net"}, true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    SetUp();
    const auto domain_id = store->add_mailbox(mailbox("@agents.example.net"));
    store->add_pair_code(row.domain ? domain_id : agent_id, kCode, clock.now() + 300);
    auto f = pair_request(kCode);
    f.recipients = row.rcpts;
    const Decision d = run(f);
    EXPECT_EQ(d.action, Action::discard);
    EXPECT_EQ(to_string(d.verdict), "pair-completed");
    ASSERT_EQ(store->outbox().size(), 1u);
    EXPECT_EQ(store->outbox()[0].reply.status, TaskStatus::completed);
    ASSERT_EQ(store->audit().size(), 2u);
    EXPECT_EQ(to_string(store->audit()[0].verdict), "pair-completed");
    EXPECT_EQ(to_string(store->audit()[1].verdict), "pair-completed");
    EXPECT_TRUE(store->pair_failures().empty());
  }
}

TEST_F(PairingTest, AWrongCodeToOneAddressListedTwiceCountsOneFailure) {
  auto f = pair_request("no-such-code");
  f.recipients = {kAgent, "<agent@example.net>", "agent@example.net."};
  const Decision d = run(f);
  EXPECT_EQ(to_string(d.verdict), "pair-rejected");
  EXPECT_EQ(store->pair_failures().size(), 1u);
  EXPECT_EQ(store->outbox().size(), 1u);
  EXPECT_EQ(store->audit().size(), 3u);
}

TEST_F(PairingTest, ReportModeSaysWhatPairingWouldDoAndDoesNothing) {
  policy.mode = EnforcementMode::report;
  store->add_pair_code(agent_id, kCode, clock.now() + 300);
  struct Row {
    const char* label;
    const char* code;
    const char* want_verdict;
  };
  const std::vector<Row> rows = {
      {"live code", kCode, "report-pair-completed"},
      {"wrong code", "wrong-code-1", "report-pair-rejected"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const Decision d = run(pair_request(row.code));
    EXPECT_EQ(d.action, Action::accept);
    EXPECT_TRUE(d.delete_recipients.empty());
    EXPECT_EQ(to_string(d.verdict), row.want_verdict);
    EXPECT_EQ(to_string(store->audit().back().verdict), row.want_verdict);
    EXPECT_EQ(store->audit().back().reason.find(row.code), std::string::npos);
  }
  EXPECT_TRUE(store->outbox().empty());
  EXPECT_FALSE(store->pair_codes()[0].consumed_at.has_value());
  EXPECT_TRUE(store->pair_failures().empty());
  EXPECT_EQ(store->calls("redeem_pair_code"), 0);
}

TEST_F(PairingTest, OurOwnPairRespondPassingBackIsAcceptedAndNotAnswered) {
  auto h = aamp_headers("pair.respond", kAgent2, "pair-task-1");
  h.push_back({"X-AAMP-Status", "completed"});
  h.push_back({"Auto-Submitted", "auto-replied"});
  auto f = facts_for(std::move(h), {kAgent}, kAgent2);
  const Decision d = run(f);
  EXPECT_EQ(d.action, Action::accept);
  EXPECT_EQ(to_string(d.verdict), "allow");
  EXPECT_TRUE(store->outbox().empty());
}

// The e2e case (test_pairing, agent-loop): a local agent mailbox pairs with another, and the
// pair.respond this filter queued comes back through the MTA (Postfix non_smtpd_milters,
// the null sender, from the local host: no trust basis). The registry knows the pair thread
// (the requester is local); the reply is ours, so its From is the party it answers for.
TEST_F(PairingTest, OurOwnPairRespondToALocalRequesterPassesThreadBinding) {
  store->add_pair_code(agent_id, kCode, clock.now() + 300);
  const Decision paired = run(pair_request(kCode, kAgent2));  // authenticated: a local requester
  ASSERT_EQ(to_string(paired.verdict), "pair-completed");
  ASSERT_EQ(store->outbox().size(), 1u);
  const OutboxReply sent = store->outbox()[0].reply;

  const auto respond = [&](const std::string& message_id, const std::string& from) {
    HeaderList h{{"From", from}, {"To", kAgent2}, {"Subject", "[AAMP Pairing] completed"},
                 {"Message-ID", message_id}, {"Auto-Submitted", "auto-replied"}, {"X-AAMP-Version", "1.1"},
                 {"X-AAMP-Intent", "pair.respond"}, {"X-AAMP-TaskId", sent.task_id},
                 {"X-AAMP-Status", "completed"}};
    auto f = facts_for(std::move(h), {kAgent2}, "");
    f.client_addr = "127.0.0.1";  // not an internal host, no SMTP AUTH
    f.client_name = "localhost";
    return f;
  };

  const Decision ours = run(respond(sent.message_id, sent.from));
  EXPECT_EQ(ours.action, Action::accept) << ours.reason;
  EXPECT_EQ(to_string(ours.verdict), "allow") << ours.reason;
  EXPECT_EQ(store->outbox().size(), 1u) << "our own reply is not answered";

  // A forged pair.respond for the same thread is nobody's: another Message-ID, or ours
  // with another From.
  const Decision forged = run(respond("<forged-1@example.org>", sent.from));
  EXPECT_EQ(forged.action, Action::reject);
  EXPECT_EQ(to_string(forged.verdict), "not-party") << forged.reason;
  const Decision other_from = run(respond(sent.message_id, "mallory@example.org"));
  EXPECT_EQ(to_string(other_from.verdict), "not-party") << other_from.reason;
}

TEST_F(PairingTest, StoreFailureDuringRedemptionTempfailsAndChangesNothing) {
  store->add_pair_code(agent_id, kCode, clock.now() + 300);
  store->fail_next(StoreErrorKind::full, "redeem_pair_code");
  const Decision d = run(pair_request(kCode));
  EXPECT_EQ(d.action, Action::tempfail);
  EXPECT_FALSE(store->pair_codes()[0].consumed_at.has_value());
  EXPECT_TRUE(store->outbox().empty());
  EXPECT_EQ(to_string(run(pair_request(kCode)).verdict), "pair-completed") << "the retry succeeds";
}

}  // namespace
}  // namespace aamp
