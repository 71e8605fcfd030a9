// store_contract_test.cpp — the behaviour every Store/Outbox must have, run against each
// implementation: the in-memory fake the engine tests use, the SQL store on a SQLite file
// (with and without the policy cache) and on a real PostgreSQL 15 (a throwaway cluster the
// test starts once): if the fake or one engine drifts, this fails.
// Each implementation is driven through a small Harness that also does the admin calls.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/store.hpp"
#include "store/admin.hpp"
#include "store/sql_store.hpp"
#include "tests/support/memory_store.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::test {
namespace {

constexpr UnixTime kNow = 1'800'000'000;

// What the contract needs besides the Store and Outbox themselves: the admin side.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual Store& store() = 0;
  virtual Outbox& outbox() = 0;
  virtual std::int64_t add_mailbox(const ProtectedMailbox& m) = 0;
  virtual std::int64_t add_rule(const SenderRule& r) = 0;
  virtual std::int64_t add_pair_code(std::int64_t mailbox_id, const std::string& code, UnixTime expires_at,
                                     const ContextRules& rules, const std::string& address = {}) = 0;
  virtual bool revoke_pair_code(std::int64_t id, UnixTime now) = 0;
  virtual std::int64_t enqueue_reply(const OutboxReply& r) = 0;
  virtual std::vector<AuditRecord> audit() = 0;
  // aampctl audit's filtered read; nullopt where there is no admin side (the memory fake).
  virtual std::optional<std::vector<AuditRecord>> audit_filtered(const store::AuditFilter&) { return std::nullopt; }
};

class MemoryHarness final : public StoreHarness {
 public:
  static constexpr const char* kName = "memory";
  Store& store() override { return s_; }
  Outbox& outbox() override { return s_; }
  std::int64_t add_mailbox(const ProtectedMailbox& m) override { return s_.add_mailbox(m); }
  std::int64_t add_rule(const SenderRule& r) override { return s_.add_rule(r); }
  std::int64_t add_pair_code(std::int64_t mailbox_id, const std::string& code, UnixTime expires_at,
                             const ContextRules& rules, const std::string& address = {}) override {
    return s_.add_pair_code(mailbox_id, code, expires_at, rules, kNow - 60, address);
  }
  bool revoke_pair_code(std::int64_t id, UnixTime now) override { return s_.revoke_pair_code(id, now); }
  std::int64_t enqueue_reply(const OutboxReply& r) override { return s_.enqueue_reply(r); }
  std::vector<AuditRecord> audit() override { return s_.audit(); }

 private:
  MemoryStore s_;
};

// Where a SQL harness keeps its database. Each is constructed before the harness's admin
// and store (it is the first base class) and gives them a fresh, empty database.
struct SqliteFile {  // a real database file in a temporary directory
  static constexpr const char* kName = "sqlite";
  static constexpr bool kCache = false;
  TempDir dir;
  std::string database() const { return dir.file("policy.db"); }
};
struct SqliteFileCached : SqliteFile {  // the daemon's setting: lookups from the policy cache
  static constexpr const char* kName = "sqlite_cached";
  static constexpr bool kCache = true;
};
struct PgDatabase {  // the shared throwaway cluster, its schema emptied for each test
  static constexpr const char* kName = "postgresql";
  static constexpr bool kCache = false;
  PgDatabase() {
    PgCluster::shared().superuser_sql(
        "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public AUTHORIZATION aamp;");
  }
  std::string database() const { return PgCluster::shared().url(); }
};

// The store under test, and a second connection doing what aampctl does.
template <class Db>
class SqlHarness final : private Db, public StoreHarness {
 public:
  static constexpr const char* kName = Db::kName;
  SqlHarness()
      : admin_(Db::database(), {.create = true, .migrate = true}), s_(Db::database(), {.cache = Db::kCache}) {}
  Store& store() override { return s_; }
  Outbox& outbox() override { return s_; }
  std::int64_t add_mailbox(const ProtectedMailbox& m) override { return admin_.add_mailbox(m, kNow, "test"); }
  std::int64_t add_rule(const SenderRule& r) override { return admin_.insert_rule(r); }
  std::int64_t add_pair_code(std::int64_t mailbox_id, const std::string& code, UnixTime expires_at,
                             const ContextRules& rules, const std::string& address = {}) override {
    return admin_.add_pair_code(mailbox_id, code, kNow - 60, expires_at, rules, "test", "", address);
  }
  bool revoke_pair_code(std::int64_t id, UnixTime now) override {
    try {
      admin_.revoke_pair_code(id, now);
      return true;
    } catch (const store::AdminError&) {
      return false;
    }
  }
  std::int64_t enqueue_reply(const OutboxReply& r) override { return admin_.enqueue_reply(r, r.created_at); }
  std::vector<AuditRecord> audit() override {
    std::vector<AuditRecord> out;
    for (const auto& e : admin_.audit()) out.push_back(e.record);
    return out;
  }
  std::optional<std::vector<AuditRecord>> audit_filtered(const store::AuditFilter& filter) override {
    std::vector<AuditRecord> out;
    for (const auto& e : admin_.audit(filter)) out.push_back(e.record);
    return out;
  }

 private:
  store::PolicyAdmin admin_;
  store::SqlStore s_;
};

template <class H>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override { h_ = std::make_unique<H>(); }
  StoreHarness& h() { return *h_; }
  Store& store() { return h_->store(); }
  Outbox& outbox() { return h_->outbox(); }

  std::int64_t mailbox(const std::string& address) {
    ProtectedMailbox m;
    m.address = address;
    return h().add_mailbox(m);
  }
  std::int64_t rule(std::int64_t mailbox_id, const std::string& pattern, UnixTime created_at = kNow,
                    ContextRules context = {}, RuleOrigin origin = RuleOrigin::configured) {
    SenderRule r;
    r.mailbox_id = mailbox_id;
    r.pattern = pattern;
    r.created_at = created_at;
    r.created_by = "test";
    r.context = std::move(context);
    r.origin = origin;
    return h().add_rule(r);
  }

  // Redeems with effects that record what they saw and write a recognisable audit row.
  struct Seen {
    int calls = 0;
    PairCheck check;
  };
  PairRedemption redeem(std::int64_t mailbox_id, const std::string& requester, const std::string& code,
                        UnixTime now, Seen* seen = nullptr, PairLimits limits = {},
                        std::optional<OutboxReply> reply = std::nullopt, ContextRules grant = {}) {
    PairAttempt a;
    a.mailbox_id = mailbox_id;
    a.requester = requester;
    a.code = code;
    a.now = now;
    a.limits = limits;
    return store().redeem_pair_code(a, [&](const PairCheck& check) {
      if (seen != nullptr) {
        ++seen->calls;
        seen->check = check;
      }
      PairEffects fx;
      fx.rules_to_grant = grant;
      fx.audit.at = now;
      fx.audit.message_id = std::string("Q").append(std::to_string(now));  // not "Q" + ...: GCC 12 -O3 -Wrestrict
      fx.audit.header_from = requester;
      fx.audit.intent = "pair.request";
      fx.audit.verdict = check.outcome == PairOutcome::completed ? AuditVerdict::pair_completed : AuditVerdict::pair_rejected;
      fx.audit.reason = std::string(to_string(check.outcome));
      fx.reply = reply;
      return fx;
    });
  }

  std::unique_ptr<H> h_;
};

using Implementations = ::testing::Types<MemoryHarness, SqlHarness<SqliteFile>, SqlHarness<SqliteFileCached>,
                                         SqlHarness<PgDatabase>>;
class ImplementationNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};
TYPED_TEST_SUITE(StoreContract, Implementations, ImplementationNames);

// --- the thread registry ------------------------------------------------------------------

ThreadEntry thread_entry(ThreadKind kind, const std::string& task, const std::string& initiator,
                         const std::string& peer, UnixTime expires_at = kNow + 3600) {
  ThreadEntry e;
  e.kind = kind;
  e.task_id = task;
  e.initiator = initiator;
  e.peer = peer;
  e.created_at = kNow;
  e.expires_at = expires_at;
  return e;
}

TYPED_TEST(StoreContract, TheFirstInitiatorOfAThreadAtAPeerKeepsIt) {
  auto& s = this->store();
  EXPECT_FALSE(s.thread_at(ThreadKind::task, "agent@example.net", "T1"));
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d1@example.org", "agent@example.net")}, {}});
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d2@example.org", "agent@example.net", kNow + 99999)}, {}});
  const auto at = s.thread_at(ThreadKind::task, "agent@example.net", "T1");
  ASSERT_TRUE(at);
  EXPECT_EQ(at->initiator, "d1@example.org");
  EXPECT_EQ(at->created_at, kNow);
  EXPECT_EQ(at->expires_at, kNow + 3600);  // the other initiator's record changed nothing
  // The same initiator again: the expiry moves to the later one, never earlier.
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d1@example.org", "agent@example.net", kNow + 7200)}, {}});
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d1@example.org", "agent@example.net", kNow + 60)}, {}});
  EXPECT_EQ(s.thread_at(ThreadKind::task, "agent@example.net", "T1")->expires_at, kNow + 7200);
  // Kinds, peers and task ids are separate threads.
  EXPECT_FALSE(s.thread_at(ThreadKind::pair, "agent@example.net", "T1"));
  EXPECT_FALSE(s.thread_at(ThreadKind::task, "other@example.net", "T1"));
  EXPECT_FALSE(s.thread_at(ThreadKind::task, "agent@example.net", "T2"));
}

TYPED_TEST(StoreContract, ThreadsStartedByListOnePerPeer) {
  auto& s = this->store();
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d1@example.org", "a@example.net")}, {}});
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d1@example.org", "b@example.net")}, {}});
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d2@example.org", "c@example.net")}, {}});
  s.record_registry({{thread_entry(ThreadKind::card, "T1", "d1@example.org", "d@example.net")}, {}});
  std::set<std::string> peers;
  for (const auto& e : s.threads_started_by(ThreadKind::task, "d1@example.org", "T1")) {
    EXPECT_EQ(e.kind, ThreadKind::task);
    EXPECT_EQ(e.initiator, "d1@example.org");
    peers.insert(e.peer);
  }
  EXPECT_EQ(peers, (std::set<std::string>{"a@example.net", "b@example.net"}));
  EXPECT_EQ(s.threads_started_by(ThreadKind::card, "d1@example.org", "T1").size(), 1u);
  EXPECT_TRUE(s.threads_started_by(ThreadKind::pair, "d1@example.org", "T1").empty());
  EXPECT_TRUE(s.threads_started_by(ThreadKind::task, "d1@example.org", "T9").empty());
}

TYPED_TEST(StoreContract, ADeliveryIsRememberedPerRecipientAndOnce) {
  auto& s = this->store();
  EXPECT_FALSE(s.delivered_at("<m1@example.org>", "agent@example.net"));
  s.record_registry({{}, {{"<m1@example.org>", "agent@example.net", kNow, kNow + 3600}}});
  s.record_registry({{}, {{"<m1@example.org>", "agent@example.net", kNow + 5, kNow + 9999}}});  // a second call: no change
  EXPECT_EQ(s.delivered_at("<m1@example.org>", "agent@example.net"), kNow);
  EXPECT_FALSE(s.delivered_at("<m1@example.org>", "other@example.net"));
  EXPECT_FALSE(s.delivered_at("<m2@example.org>", "agent@example.net"));
}

// One read holds what a recipient's binding and duplicate check need: the threads with the
// TaskId it is the peer of and those it started (each once, even one it started with
// itself), and its delivery of the Message-ID; nothing of other recipients or TaskIds.
TYPED_TEST(StoreContract, ARegistryViewIsWhatOneRecipientIsAPartyOf) {
  auto& s = this->store();
  const std::string me = "me@example.net";
  s.record_registry({{thread_entry(ThreadKind::task, "T1", "d1@example.org", me),          // I am its agent
                      thread_entry(ThreadKind::card, "T1", me, "b@example.net"),           // I asked b
                      thread_entry(ThreadKind::pair, "T1", me, "a@example.net"),           // I asked a
                      thread_entry(ThreadKind::card, "T1", me, me),                        // I asked myself: once
                      thread_entry(ThreadKind::task, "T1", "d1@example.org", "x@example.net"),  // not mine
                      thread_entry(ThreadKind::task, "T2", "d1@example.org", me)},         // another TaskId
                     {{"<m1@example.org>", me, kNow, kNow + 3600}, {"<m1@example.org>", "x@example.net", kNow + 1, kNow + 3600},
                      {"<m2@example.org>", me, kNow + 2, kNow + 3600}}});
  const RegistryView v = s.registry_view(me, "T1", "<m1@example.org>");
  std::multiset<std::string> seen;
  for (const auto& t : v.threads) {
    EXPECT_EQ(t.task_id, "T1");
    seen.insert(std::string(to_string(t.kind)) + " " + t.initiator + " -> " + t.peer);
  }
  EXPECT_EQ(seen, (std::multiset<std::string>{"task d1@example.org -> me@example.net", "card me@example.net -> b@example.net",
                                              "pair me@example.net -> a@example.net", "card me@example.net -> me@example.net"}));
  EXPECT_EQ(v.delivered_at, kNow);
  EXPECT_EQ(v.at(ThreadKind::task, me)->initiator, "d1@example.org");
  EXPECT_EQ(v.at(ThreadKind::card, me)->initiator, me);
  EXPECT_FALSE(v.at(ThreadKind::pair, me));
  ASSERT_EQ(v.started_by(ThreadKind::pair, me).size(), 1U);
  EXPECT_EQ(v.started_by(ThreadKind::pair, me).front().peer, "a@example.net");
  ASSERT_EQ(v.started_by(ThreadKind::card, me).size(), 2U);  // by peer
  EXPECT_EQ(v.started_by(ThreadKind::card, me).front().peer, "b@example.net");
  const RegistryView none = s.registry_view("nobody@example.net", "T1", "<m1@example.org>");
  EXPECT_TRUE(none.threads.empty());
  EXPECT_FALSE(none.delivered_at);
  EXPECT_FALSE(s.registry_view(me, "T3", "<m3@example.org>").delivered_at);
}

// --- find_mailbox ----------------------------------------------------------------------

TYPED_TEST(StoreContract, FindMailboxExactAddressWinsOverDomain) {
  ProtectedMailbox exact;
  exact.address = "Agent@Example.com";
  exact.mode = MailboxMode::report;
  exact.guarded_intents = {Intent::task_dispatch};
  exact.trust = trust_auth | trust_authres;
  const auto exact_id = this->h().add_mailbox(exact);
  ProtectedMailbox domain;
  domain.address = "@example.com";
  domain.mode = MailboxMode::off;
  domain.guarded_intents = {};
  domain.trust = 0;
  const auto domain_id = this->h().add_mailbox(domain);
  this->mailbox("@other.org");

  struct Row {
    const char* label;
    const char* recipient;
    std::optional<std::int64_t> want;
  };
  const Row rows[] = {
      {"exact", "agent@example.com", exact_id},
      {"exact any case", "AGENT@EXAMPLE.COM", exact_id},
      {"exact in angle brackets", "<agent@example.com>", exact_id},
      {"same domain other address", "bob@example.com", domain_id},
      {"domain any case", "bob@EXAMPLE.com", domain_id},
      {"subdomain is not the domain", "bob@sub.example.com", std::nullopt},
      {"unprotected", "bob@example.net", std::nullopt},
      {"no at sign", "example.com", std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = this->store().find_mailbox(row.recipient);
    ASSERT_EQ(got.has_value(), row.want.has_value());
    if (got) {
      EXPECT_EQ(got->id, *row.want);
    }
  }

  const auto e = this->store().find_mailbox("agent@example.com");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->address, "agent@example.com");
  EXPECT_EQ(e->mode, MailboxMode::report);
  EXPECT_EQ(e->guarded_intents, std::vector<Intent>{Intent::task_dispatch});
  EXPECT_EQ(e->trust, trust_auth | trust_authres);
  const auto d = this->store().find_mailbox("x@example.com");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->address, "@example.com");
  EXPECT_EQ(d->mode, MailboxMode::off);
  EXPECT_TRUE(d->guarded_intents.empty());
  EXPECT_EQ(d->trust, 0u);
}

TYPED_TEST(StoreContract, DuplicateMailboxIsRefused) {
  this->mailbox("agent@example.com");
  EXPECT_ANY_THROW(this->mailbox("AGENT@example.com"));  // admin side: the error type differs
}

// --- matching_rules --------------------------------------------------------------------

TYPED_TEST(StoreContract, MatchingRulesByKind) {
  const auto mb = this->mailbox("agent@example.com");
  const auto other_mb = this->mailbox("other@example.com");
  const auto exact = this->rule(mb, "Alice@Partner.com");
  const auto domain = this->rule(mb, "@partner.com");
  const auto star_domain = this->rule(mb, "*@partner.com");  // canonical "@partner.com"
  const auto glob = this->rule(mb, "ci-*@partner.com");
  const auto any = this->rule(mb, "*");
  const auto sub = this->rule(mb, "*@*.partner.com");
  this->rule(other_mb, "alice@partner.com");
  this->rule(mb, "bob@partner.com");

  struct Row {
    const char* label;
    const char* sender;
    std::set<std::int64_t> want;
  };
  const Row rows[] = {
      {"exact, domain, any", "alice@partner.com", {exact, domain, star_domain, any}},
      {"sender case ignored", "ALICE@partner.COM", {exact, domain, star_domain, any}},
      {"glob", "ci-7@partner.com", {domain, star_domain, glob, any}},
      {"subdomain glob", "x@eu.partner.com", {sub, any}},
      {"only the catch-all", "eve@evil.net", {any}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    std::set<std::int64_t> got;
    for (const auto& r : this->store().matching_rules(mb, row.sender)) {
      EXPECT_EQ(r.mailbox_id, mb);
      got.insert(r.id);
    }
    EXPECT_EQ(got, row.want);
  }
  EXPECT_TRUE(this->store().matching_rules(mb + other_mb + 100, "alice@partner.com").empty());
}

TYPED_TEST(StoreContract, MatchingRulesOldestFirstWithTheirFields) {
  const auto mb = this->mailbox("agent@example.com");
  const auto newer = this->rule(mb, "@partner.com", kNow + 10, {{"source", {"github"}}});
  const auto older = this->rule(mb, "alice@partner.com", kNow - 10, {}, RuleOrigin::paired);
  const auto same_time_a = this->rule(mb, "*", kNow);
  const auto same_time_b = this->rule(mb, "a*@partner.com", kNow);

  const auto got = this->store().matching_rules(mb, "alice@partner.com");
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].id, older);
  EXPECT_EQ(got[1].id, same_time_a);
  EXPECT_EQ(got[2].id, same_time_b);
  EXPECT_EQ(got[3].id, newer);

  EXPECT_EQ(got[0].pattern, "alice@partner.com");
  EXPECT_EQ(got[0].origin, RuleOrigin::paired);
  EXPECT_TRUE(got[0].context.empty());
  EXPECT_EQ(got[0].created_at, kNow - 10);
  EXPECT_EQ(got[3].pattern, "@partner.com");
  EXPECT_EQ(got[3].origin, RuleOrigin::configured);
  EXPECT_EQ(got[3].context, (ContextRules{{"source", {"github"}}}));
  EXPECT_EQ(got[3].created_by, "test");
}

// --- record_audit ----------------------------------------------------------------------

TYPED_TEST(StoreContract, AuditRowsRoundTrip) {
  AuditRecord a;
  a.at = kNow;
  a.message_id = "4XyZ1";
  a.client_addr = "2001:db8::1";
  a.auth_user = "alice";
  a.envelope_from = "alice@partner.com";
  a.header_from = "alice@partner.com";
  a.recipient = "agent@example.com";
  a.intent = "task.dispatch";
  a.task_id = "t-1";
  a.verdict = AuditVerdict::allow;
  a.reason = "rule 7";
  a.rule_id = 7;
  AuditRecord b = a;
  b.at = kNow + 1;
  b.rule_id.reset();
  b.verdict = AuditVerdict::deny;
  this->store().record_audit(a);
  this->store().record_audit(b);
  const auto rows = this->h().audit();
  ASSERT_EQ(rows.size(), 2u);
  const auto& r = rows[0];
  EXPECT_EQ(r.at, a.at);
  EXPECT_EQ(r.message_id, a.message_id);
  EXPECT_EQ(r.client_addr, a.client_addr);
  EXPECT_EQ(r.auth_user, a.auth_user);
  EXPECT_EQ(r.envelope_from, a.envelope_from);
  EXPECT_EQ(r.header_from, a.header_from);
  EXPECT_EQ(r.recipient, a.recipient);
  EXPECT_EQ(r.intent, a.intent);
  EXPECT_EQ(r.task_id, a.task_id);
  EXPECT_EQ(r.verdict, a.verdict);
  EXPECT_EQ(r.reason, a.reason);
  EXPECT_EQ(r.rule_id, std::optional<std::int64_t>(7));
  EXPECT_EQ(to_string(rows[1].verdict), "deny");
  EXPECT_FALSE(rows[1].rule_id.has_value());
}

// Every combination of filters, as `aampctl audit` builds them: each statement text must
// prepare on every engine (PostgreSQL refuses a parameter the text does not use).
TYPED_TEST(StoreContract, AuditFiltersInEveryCombination) {
  AuditRecord a;
  a.at = kNow;
  a.header_from = a.envelope_from = "alice@partner.com";
  a.recipient = "agent@example.com";
  a.verdict = AuditVerdict::allow;
  AuditRecord b = a;
  b.at = kNow + 10;
  b.header_from = b.envelope_from = "carol@other.org";
  b.verdict = AuditVerdict::deny;
  this->store().record_audit(a);
  this->store().record_audit(b);
  if (!this->h().audit_filtered(store::AuditFilter{})) GTEST_SKIP() << "no admin side";
  for (int bits = 0; bits < 32; ++bits) {
    store::AuditFilter f;
    if (bits & 1) f.since = kNow;
    if (bits & 2) f.mailbox = "@example.com";
    if (bits & 4) f.sender = "@partner.com";  // alice only
    if (bits & 8) f.verdict = "allow";        // alice only
    if (bits & 16) f.limit = 1;
    const std::size_t expected = (bits & 12) || (bits & 16) ? 1u : 2u;
    const auto rows = this->h().audit_filtered(f);
    ASSERT_TRUE(rows) << bits;
    ASSERT_EQ(rows->size(), expected) << "filter bits " << bits;
    EXPECT_EQ(rows->back().header_from, (bits & 12) ? a.header_from : b.header_from) << "filter bits " << bits;
  }
}

// --- redeem_pair_code ------------------------------------------------------------------

TYPED_TEST(StoreContract, RedeemCompletesOnceAndGrantsAPairedRule) {
  const auto mb = this->mailbox("agent@example.com");
  const ContextRules issued{{"source", {"feishu", "github"}}};
  this->h().add_pair_code(mb, "c0de-ABCDEFGH", kNow + 300, issued);
  const ContextRules grant{{"source", {"github"}}};
  OutboxReply reply;
  reply.message_id = "<r1@example.com>";
  reply.from = "agent@example.com";
  reply.to = "bob@partner.com";
  reply.task_id = "t-1";
  reply.in_reply_to = "<req1@partner.com>";

  typename TestFixture::Seen seen;
  const auto r = this->redeem(mb, "Bob@Partner.com", "c0de-ABCDEFGH", kNow, &seen, {}, reply, grant);
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.check.outcome, PairOutcome::completed);
  EXPECT_EQ(seen.check.issued_rules, issued);
  EXPECT_EQ(r.check.outcome, PairOutcome::completed);
  ASSERT_TRUE(r.rule_id.has_value());

  const auto rules = this->store().matching_rules(mb, "bob@partner.com");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].id, *r.rule_id);
  EXPECT_EQ(rules[0].pattern, "bob@partner.com");
  EXPECT_EQ(rules[0].origin, RuleOrigin::paired);
  EXPECT_EQ(rules[0].context, grant);
  EXPECT_EQ(rules[0].created_at, kNow);

  const auto audit = this->h().audit();
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_EQ(to_string(audit[0].verdict), "pair-completed");
  EXPECT_EQ(audit[0].rule_id, r.rule_id);

  const auto due = this->outbox().due_replies(kNow, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].message_id, "<r1@example.com>");
  EXPECT_EQ(due[0].to, "bob@partner.com");
  EXPECT_EQ(due[0].task_id, "t-1");
  EXPECT_EQ(due[0].in_reply_to, "<req1@partner.com>");
  EXPECT_EQ(due[0].status, TaskStatus::completed);
  EXPECT_EQ(due[0].created_at, kNow);
  EXPECT_EQ(due[0].next_attempt_at, kNow);
  EXPECT_EQ(due[0].attempts, 0);

  // The engine finds its own reply by Message-ID, queued or sent (thread binding).
  const auto ours = this->store().queued_reply("<r1@example.com>");
  ASSERT_TRUE(ours.has_value());
  EXPECT_EQ(ours->from, "agent@example.com");
  EXPECT_EQ(ours->to, "bob@partner.com");
  EXPECT_EQ(ours->task_id, "t-1");
  EXPECT_FALSE(this->store().queued_reply("<r2@example.com>").has_value());
  ASSERT_TRUE(this->outbox().claim(due[0].id, kNow, kNow + 60));
  this->outbox().mark_sent(due[0].id, kNow);
  EXPECT_TRUE(this->store().queued_reply("<r1@example.com>").has_value()) << "a sent reply is still ours";

  typename TestFixture::Seen again;
  const auto r2 = this->redeem(mb, "bob@partner.com", "c0de-ABCDEFGH", kNow + 1, &again);
  EXPECT_EQ(again.calls, 1);
  EXPECT_EQ(r2.check.outcome, PairOutcome::already_used);
  EXPECT_FALSE(r2.rule_id.has_value());
  EXPECT_EQ(this->h().audit().size(), 2u);
}

TYPED_TEST(StoreContract, CodeBoundToOneAddressOfADomainMailbox) {
  const auto domain = this->mailbox("@example.org");
  this->h().add_pair_code(domain, "bound-code", kNow + 300, {}, "Bot@Example.org");
  this->h().add_pair_code(domain, "unbound-code", kNow + 300, {});
  const auto attempt = [&](const std::string& code, const std::string& recipient) {
    PairAttempt a;
    a.mailbox_id = domain;
    a.requester = "bob@partner.com";
    a.code = code;
    a.now = kNow;
    a.recipient = recipient;
    return a;
  };
  const auto effects = [](const PairCheck&) { return PairEffects{}; };
  struct Row {
    const char* label;
    const char* code;
    const char* recipient;
    PairOutcome want;
  };
  const Row rows[] = {
      {"another address of the domain", "bound-code", "other@example.org", PairOutcome::unknown_code},
      {"the bound address, any case", "bound-code", "bot@EXAMPLE.org", PairOutcome::completed},
      {"an unbound code, any address", "unbound-code", "whoever@example.org", PairOutcome::completed},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(this->store().peek_pair_code(attempt(row.code, row.recipient)).outcome, row.want);
    EXPECT_EQ(this->store().redeem_pair_code(attempt(row.code, row.recipient), effects).check.outcome, row.want);
  }
}

TYPED_TEST(StoreContract, RedeemOutcomes) {
  const auto mb = this->mailbox("agent@example.com");
  const auto other = this->mailbox("other@example.com");
  this->h().add_pair_code(mb, "live-code", kNow + 300, {});
  this->h().add_pair_code(mb, "expires-now", kNow, {});
  this->h().add_pair_code(mb, "expired", kNow - 1, {});
  this->h().add_pair_code(other, "for-other", kNow + 300, {});
  const auto revoked = this->h().add_pair_code(mb, "revoked", kNow + 300, {});
  ASSERT_TRUE(this->h().revoke_pair_code(revoked, kNow - 5));
  EXPECT_FALSE(this->h().revoke_pair_code(revoked, kNow - 4));  // not live any more

  struct Row {
    const char* label;
    const char* code;
    PairOutcome want;
  };
  const Row rows[] = {
      {"unknown code", "nope", PairOutcome::unknown_code},
      {"empty code", "", PairOutcome::unknown_code},
      {"code of another mailbox", "for-other", PairOutcome::unknown_code},
      {"code differs in case", "LIVE-CODE", PairOutcome::unknown_code},
      {"expiry is exclusive", "expires-now", PairOutcome::expired},
      {"expired", "expired", PairOutcome::expired},
      {"revoked", "revoked", PairOutcome::revoked},
      {"live", "live-code", PairOutcome::completed},
      {"then used", "live-code", PairOutcome::already_used},
  };
  PairLimits generous;
  generous.max_failures = 100;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    typename TestFixture::Seen seen;
    const auto r = this->redeem(mb, "bob@partner.com", row.code, kNow, &seen, generous);
    EXPECT_EQ(seen.calls, 1);
    EXPECT_EQ(seen.check.outcome, row.want);
    EXPECT_EQ(r.check.outcome, row.want);
    EXPECT_EQ(r.rule_id.has_value(), row.want == PairOutcome::completed);
  }
  EXPECT_EQ(this->h().audit().size(), std::size(rows));
}

TYPED_TEST(StoreContract, RedeemUpdatesTheOnePairedRulePerRequester) {
  const auto mb = this->mailbox("agent@example.com");
  const auto configured = this->rule(mb, "bob@partner.com");  // operators' rules stay apart
  this->h().add_pair_code(mb, "first", kNow + 300, {});
  this->h().add_pair_code(mb, "second", kNow + 300, {});
  const auto r1 = this->redeem(mb, "bob@partner.com", "first", kNow, nullptr, {}, std::nullopt, {{"k", {"a"}}});
  const auto r2 = this->redeem(mb, "BOB@partner.com", "second", kNow + 5, nullptr, {}, std::nullopt, {{"k", {"b"}}});
  ASSERT_EQ(r1.check.outcome, PairOutcome::completed);
  ASSERT_EQ(r2.check.outcome, PairOutcome::completed);
  EXPECT_EQ(r1.rule_id, r2.rule_id);
  EXPECT_NE(*r1.rule_id, configured);
  const auto rules = this->store().matching_rules(mb, "bob@partner.com");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].id, configured);
  EXPECT_EQ(rules[1].id, *r1.rule_id);
  EXPECT_EQ(rules[1].context, (ContextRules{{"k", {"b"}}}));
  EXPECT_EQ(rules[1].created_at, kNow);  // updated, not re-created
}

TYPED_TEST(StoreContract, PeekReportsWhatRedeemWouldFindAndChangesNothing) {
  const auto mb = this->mailbox("agent@example.com");
  const ContextRules issued{{"env", {"prod"}}};
  this->h().add_pair_code(mb, "live", kNow + 3600, issued);
  this->h().add_pair_code(mb, "expired", kNow - 1, {});
  PairLimits one;
  one.max_failures = 1;
  auto peek = [&](const std::string& who, const std::string& code, UnixTime now) {
    PairAttempt a;
    a.mailbox_id = mb;
    a.requester = who;
    a.code = code;
    a.now = now;
    a.limits = one;
    return this->store().peek_pair_code(a);
  };
  struct Row {
    const char* label;
    const char* code;
    PairOutcome want;
  };
  const Row rows[] = {
      {"live", "live", PairOutcome::completed},
      {"live again: peeking consumed nothing", "live", PairOutcome::completed},
      {"unknown", "nope", PairOutcome::unknown_code},
      {"unknown again: peeking counted nothing", "nope", PairOutcome::unknown_code},
      {"expired", "expired", PairOutcome::expired},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto c = peek("bob@partner.com", row.code, kNow);
    EXPECT_EQ(c.outcome, row.want);
    if (row.want == PairOutcome::completed) {
      EXPECT_EQ(c.issued_rules, issued);
    }
  }
  EXPECT_TRUE(this->h().audit().empty());
  // A real failure locks the requester out (max_failures 1); peek reports it.
  this->redeem(mb, "eve@x.com", "nope", kNow, nullptr, one);
  const auto locked = peek("eve@x.com", "live", kNow + 1);
  EXPECT_EQ(locked.outcome, PairOutcome::locked_out);
  EXPECT_EQ(locked.locked_until, kNow + one.lockout);
  EXPECT_EQ(this->redeem(mb, "bob@partner.com", "live", kNow + 1 + one.lockout, nullptr, one).check.outcome,
            PairOutcome::completed);
  EXPECT_EQ(peek("bob@partner.com", "live", kNow + 2 + one.lockout).outcome, PairOutcome::already_used);
}

TYPED_TEST(StoreContract, APairedRequesterWithAStarCoversOnlyItself) {
  const auto mb = this->mailbox("agent@example.com");
  this->h().add_pair_code(mb, "code", kNow + 300, {});
  // '*' is a legal local-part character (RFC 5322 atext): the paired rule stays exact.
  ASSERT_EQ(this->redeem(mb, "*@partner.com", "code", kNow).check.outcome, PairOutcome::completed);
  EXPECT_TRUE(this->store().matching_rules(mb, "bob@partner.com").empty());
  EXPECT_EQ(this->store().matching_rules(mb, "*@partner.com").size(), 1u);
}

TYPED_TEST(StoreContract, AnExceptionFromEffectsChangesNothing) {
  const auto mb = this->mailbox("agent@example.com");
  this->h().add_pair_code(mb, "live-code", kNow + 300, {});
  PairLimits one;
  one.max_failures = 1;
  PairAttempt a;
  a.mailbox_id = mb;
  a.requester = "bob@partner.com";
  a.now = kNow;
  a.limits = one;
  for (const char* code : {"live-code", "wrong"}) {
    SCOPED_TRACE(code);
    a.code = code;
    int calls = 0;
    EXPECT_THROW(this->store().redeem_pair_code(a,
                                                [&](const PairCheck&) -> PairEffects {
                                                  ++calls;
                                                  throw std::runtime_error("engine failed");
                                                }),
                 std::runtime_error);
    EXPECT_EQ(calls, 1);
  }
  EXPECT_TRUE(this->h().audit().empty());
  EXPECT_TRUE(this->store().matching_rules(mb, "bob@partner.com").empty());
  // Not consumed, and the wrong code was not counted (else max_failures=1 would lock out).
  EXPECT_EQ(this->redeem(mb, "bob@partner.com", "live-code", kNow, nullptr, one).check.outcome,
            PairOutcome::completed);
}

TYPED_TEST(StoreContract, ADuplicateReplyRollsTheRedemptionBack) {
  const auto mb = this->mailbox("agent@example.com");
  this->h().add_pair_code(mb, "live-code", kNow + 300, {});
  OutboxReply reply;
  reply.message_id = "<dup@example.com>";
  reply.from = "agent@example.com";
  reply.to = "x@partner.com";
  reply.task_id = "t";
  this->h().enqueue_reply(reply);
  EXPECT_THROW(this->redeem(mb, "bob@partner.com", "live-code", kNow, nullptr, {}, reply), StoreError);
  EXPECT_TRUE(this->h().audit().empty());
  EXPECT_TRUE(this->store().matching_rules(mb, "bob@partner.com").empty());
  EXPECT_EQ(this->redeem(mb, "bob@partner.com", "live-code", kNow).check.outcome, PairOutcome::completed);
}

TYPED_TEST(StoreContract, WrongCodesLockTheMailboxOut) {
  const auto mb = this->mailbox("agent@example.com");
  const auto other = this->mailbox("other@example.com");
  this->h().add_pair_code(mb, "right", kNow + 3600, {});
  this->h().add_pair_code(other, "other-right", kNow + 3600, {});
  PairLimits limits;
  limits.max_failures = 3;
  limits.window = 600;
  limits.lockout = 900;
  // Three requesters, one wrong code each: the mailbox is locked, no requester is.
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    // Appended, not "r" + a temporary string: GCC 12 at -O3 reports a false -Wrestrict.
    const std::string requester = std::string("r").append(std::to_string(i)).append("@x.com");
    const auto r = this->redeem(mb, requester, "wrong", kNow + i, nullptr, limits);
    EXPECT_EQ(r.check.outcome, PairOutcome::unknown_code);
  }
  typename TestFixture::Seen seen;
  auto r = this->redeem(mb, "new@x.com", "right", kNow + 10, &seen, limits);
  EXPECT_EQ(seen.calls, 1);
  EXPECT_EQ(seen.check.outcome, PairOutcome::locked_out);
  EXPECT_EQ(seen.check.locked_until, kNow + 2 + 900);
  EXPECT_EQ(r.check.locked_until, kNow + 2 + 900);
  EXPECT_FALSE(r.rule_id.has_value());
  EXPECT_EQ(this->h().audit().back().reason, "locked-out");
  // Another mailbox and the same requesters elsewhere are unaffected.
  EXPECT_EQ(this->redeem(other, "r0@x.com", "other-right", kNow + 10, nullptr, limits).check.outcome,
            PairOutcome::completed);
  // Tries while locked are not counted: after the lockout the right code works.
  for (int i = 0; i < 5; ++i) this->redeem(mb, "z@x.com", "wrong", kNow + 20 + i, nullptr, limits);
  EXPECT_EQ(this->redeem(mb, "new@x.com", "right", kNow + 2 + 899, nullptr, limits).check.outcome,
            PairOutcome::locked_out);
  EXPECT_EQ(this->redeem(mb, "new@x.com", "right", kNow + 2 + 900, nullptr, limits).check.outcome,
            PairOutcome::completed);
}

TYPED_TEST(StoreContract, WrongCodesLockTheRequesterOutEverywhere) {
  const auto a = this->mailbox("a@example.com");
  const auto b = this->mailbox("b@example.com");
  const auto c = this->mailbox("c@example.com");
  this->h().add_pair_code(c, "right", kNow + 3600, {});
  PairLimits limits;
  limits.max_failures = 2;
  limits.window = 600;
  limits.lockout = 60;
  EXPECT_EQ(this->redeem(a, "eve@x.com", "guess1", kNow, nullptr, limits).check.outcome, PairOutcome::unknown_code);
  EXPECT_EQ(this->redeem(b, "EVE@x.com", "guess2", kNow + 1, nullptr, limits).check.outcome,
            PairOutcome::unknown_code);
  const auto r = this->redeem(c, "eve@x.com", "right", kNow + 2, nullptr, limits);
  EXPECT_EQ(r.check.outcome, PairOutcome::locked_out);
  EXPECT_EQ(r.check.locked_until, kNow + 1 + 60);
  // Someone else may still pair with c.
  EXPECT_EQ(this->redeem(c, "alice@x.com", "right", kNow + 3, nullptr, limits).check.outcome,
            PairOutcome::completed);
}

TYPED_TEST(StoreContract, FailuresOutsideTheWindowDoNotCount) {
  const auto mb = this->mailbox("agent@example.com");
  this->h().add_pair_code(mb, "right", kNow + 3600, {});
  PairLimits limits;
  limits.max_failures = 2;
  limits.window = 100;
  limits.lockout = 100;
  this->redeem(mb, "eve@x.com", "wrong", kNow, nullptr, limits);
  this->redeem(mb, "eve@x.com", "wrong", kNow + 100, nullptr, limits);  // the first is out of the window now
  EXPECT_EQ(this->redeem(mb, "eve@x.com", "right", kNow + 101, nullptr, limits).check.outcome,
            PairOutcome::completed);
}

TYPED_TEST(StoreContract, EveryKindOfFailureCounts) {
  const auto mb = this->mailbox("agent@example.com");
  this->h().add_pair_code(mb, "expired", kNow - 1, {});
  this->h().add_pair_code(mb, "used", kNow + 300, {});
  const auto revoked = this->h().add_pair_code(mb, "revoked", kNow + 300, {});
  this->h().add_pair_code(mb, "right", kNow + 300, {});
  this->h().revoke_pair_code(revoked, kNow);
  ASSERT_EQ(this->redeem(mb, "x@x.com", "used", kNow).check.outcome, PairOutcome::completed);
  PairLimits limits;
  limits.max_failures = 4;
  for (const char* code : {"nope", "expired", "used", "revoked"}) {
    SCOPED_TRACE(code);
    EXPECT_NE(this->redeem(mb, "eve@x.com", code, kNow, nullptr, limits).check.outcome, PairOutcome::locked_out);
  }
  EXPECT_EQ(this->redeem(mb, "y@x.com", "right", kNow, nullptr, limits).check.outcome, PairOutcome::locked_out);
}

// --- Outbox ----------------------------------------------------------------------------

TYPED_TEST(StoreContract, OutboxDueSentFailedAbandoned) {
  auto make = [](const std::string& id, UnixTime created, UnixTime next) {
    OutboxReply r;
    r.message_id = "<" + id + "@example.com>";
    r.from = "agent@example.com";
    r.to = "bob@partner.com";
    r.task_id = id;
    r.status = TaskStatus::rejected;
    r.error_msg = "invalid or expired pair code";
    r.created_at = created;
    r.next_attempt_at = next;
    return r;
  };
  const auto a = this->h().enqueue_reply(make("a", kNow, kNow));
  const auto b = this->h().enqueue_reply(make("b", kNow - 5, kNow + 60));
  const auto c = this->h().enqueue_reply(make("c", kNow + 1, kNow + 1));
  const auto d = this->h().enqueue_reply(make("d", kNow - 10, kNow - 10));

  auto ids = [&](UnixTime now, int limit) {
    std::vector<std::int64_t> out;
    for (const auto& r : this->outbox().due_replies(now, limit)) out.push_back(r.id);
    return out;
  };
  EXPECT_EQ(ids(kNow, 10), (std::vector<std::int64_t>{d, a}));
  EXPECT_EQ(ids(kNow + 60, 10), (std::vector<std::int64_t>{d, b, a, c}));
  // The backlog counts every unsent reply, due or not (the metrics' outbox gauges).
  EXPECT_EQ(this->outbox().backlog().depth, 4);
  EXPECT_EQ(this->outbox().backlog().oldest_created_at, kNow - 10);
  EXPECT_EQ(ids(kNow + 60, 2), (std::vector<std::int64_t>{d, b}));

  const auto due = this->outbox().due_replies(kNow, 1);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].status, TaskStatus::rejected);
  EXPECT_EQ(due[0].error_msg, "invalid or expired pair code");
  EXPECT_EQ(due[0].created_at, kNow - 10);

  this->outbox().mark_failed(d, kNow + 30, "sendmail exited 75");
  EXPECT_EQ(ids(kNow, 10), (std::vector<std::int64_t>{a}));
  const auto retried = this->outbox().due_replies(kNow + 30, 10);
  ASSERT_FALSE(retried.empty());
  EXPECT_EQ(retried[0].id, d);
  EXPECT_EQ(retried[0].attempts, 1);
  EXPECT_EQ(retried[0].last_error, "sendmail exited 75");
  EXPECT_EQ(retried[0].next_attempt_at, kNow + 30);

  this->outbox().mark_sent(a, kNow);
  this->outbox().mark_abandoned(d, kNow + 30, "too many attempts");
  EXPECT_EQ(ids(kNow + 60, 10), (std::vector<std::int64_t>{b, c}));
  // A sent or abandoned reply never comes back, whatever the worker says later.
  this->outbox().mark_failed(a, kNow, "late");
  this->outbox().mark_failed(d, kNow, "late");
  this->outbox().mark_sent(999999, kNow);  // unknown ids are ignored
  EXPECT_EQ(ids(kNow + 60, 10), (std::vector<std::int64_t>{b, c}));
  EXPECT_EQ(this->outbox().backlog().depth, 2);  // sent and abandoned ones are gone
  EXPECT_EQ(this->outbox().backlog().oldest_created_at, kNow - 5);
  this->outbox().mark_sent(b, kNow);
  this->outbox().mark_sent(c, kNow);
  EXPECT_EQ(this->outbox().backlog().depth, 0);
  EXPECT_EQ(this->outbox().backlog().oldest_created_at, 0);
}

TYPED_TEST(StoreContract, OutboxClaimIsTakenOnceAndLeased) {
  OutboxReply r;
  r.message_id = "<claimed@example.com>";
  r.from = "agent@example.com";
  r.to = "bob@partner.com";
  r.task_id = "claimed";
  r.created_at = kNow;
  r.next_attempt_at = kNow;
  const auto id = this->h().enqueue_reply(r);

  EXPECT_FALSE(this->outbox().claim(id, kNow - 1, kNow + 100));  // not due yet
  EXPECT_TRUE(this->outbox().claim(id, kNow, kNow + 100));
  EXPECT_FALSE(this->outbox().claim(id, kNow, kNow + 100));  // the second worker loses
  EXPECT_TRUE(this->outbox().due_replies(kNow + 99, 10).empty());
  ASSERT_EQ(this->outbox().due_replies(kNow + 100, 10).size(), 1u);  // the lease ended

  EXPECT_TRUE(this->outbox().claim(id, kNow + 100, kNow + 200));
  this->outbox().release(id, kNow);  // given back unsent: due as before
  ASSERT_EQ(this->outbox().due_replies(kNow, 10).size(), 1u);
  EXPECT_EQ(this->outbox().due_replies(kNow, 10)[0].attempts, 0);

  this->outbox().mark_sent(id, kNow);
  EXPECT_FALSE(this->outbox().claim(id, kNow + 500, kNow + 600));  // sent: nothing to claim
  this->outbox().release(id, kNow);
  EXPECT_TRUE(this->outbox().due_replies(kNow + 500, 10).empty());
}

}  // namespace
}  // namespace aamp::test
