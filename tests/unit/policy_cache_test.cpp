// policy_cache_test.cpp — the policy cache answers find_mailbox and matching_rules exactly
// as the SQLite store does (the store contract's cases, both asked side by side on one real
// database written by PolicyAdmin, whose schema 0005 triggers fill the change log), picks
// up added, changed and removed mailboxes and rules by reloading only those, refuses to
// answer when stale, and stops its thread when it goes.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>
#include <unordered_map>

#include "store/admin.hpp"
#include "store/codec.hpp"
#include "store/policy_cache.hpp"
#include "store/sql_policy_source.hpp"
#include "store/sqlite.hpp"
#include "store/sql_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::test {
namespace {

using namespace std::chrono_literals;
using store::CachedRule;
using store::MailboxRows;
using store::PolicyCache;
using store::PolicyCacheOptions;
using store::PolicyChange;
using store::PolicyLoad;
namespace sql = store::policy_sql;

constexpr UnixTime kNow = 1'800'000'000;

// What the source was asked, for the tests that check a refresh reads only what changed.
struct SourceLog {
  std::atomic<int> full_loads = 0;
  std::atomic<int> change_reads = 0;
  std::vector<std::int64_t> last_ids;  // the mailboxes of the last load_mailboxes
  std::atomic<bool> fail = false;      // every call throws StoreError(unavailable)
};

// The real SQL source over a pool on the test's file, counting what it is asked and
// failing on demand.
class TestSource final : public store::PolicySource {
 public:
  TestSource(const std::string& path, SourceLog& log)
      : pool_(path, {}, 1), real_(store::make_sql_policy_source(pool_)), log_(log) {}

  PolicyLoad load_all() override {
    check();
    ++log_.full_loads;
    return real_->load_all();
  }
  std::vector<PolicyChange> changes_since(std::int64_t seq) override {
    check();
    ++log_.change_reads;
    return real_->changes_since(seq);
  }
  std::int64_t last_seq() override {
    check();
    return real_->last_seq();
  }
  std::vector<MailboxRows> load_mailboxes(std::span<const std::int64_t> ids) override {
    check();
    log_.last_ids.assign(ids.begin(), ids.end());
    return real_->load_mailboxes(ids);
  }
  const std::string& name() const noexcept override { return real_->name(); }

 private:
  void check() const {
    if (log_.fail) throw StoreError(StoreErrorKind::unavailable, real_->name() + ": the test broke the source");
  }
  store::ConnectionPool pool_;
  std::unique_ptr<store::PolicySource> real_;
  SourceLog& log_;
};

// Steady time the test moves by hand.
struct ManualClock {
  std::shared_ptr<std::atomic<std::chrono::steady_clock::rep>> now =
      std::make_shared<std::atomic<std::chrono::steady_clock::rep>>(1'000'000'000);
  void advance(std::chrono::milliseconds d) { *now += std::chrono::steady_clock::duration(d).count(); }
  std::function<std::chrono::steady_clock::time_point()> fn() const {
    return [n = now] { return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(n->load())); };
  }
};

class PolicyCacheTest : public ::testing::Test {
 protected:
  std::int64_t mailbox(const std::string& address, MailboxMode mode = MailboxMode::enforce) {
    ProtectedMailbox m;
    m.address = address;
    m.mode = mode;
    return admin_.add_mailbox(m, kNow, "test");
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
    return admin_.insert_rule(r);
  }
  // A cache refreshed by hand, on the manual clock.
  PolicyCache& cache(PolicyCacheOptions options = {}) {
    options.background = false;
    options.clock = clock_.fn();
    cache_ = std::make_unique<PolicyCache>(std::make_unique<TestSource>(path_, log_), std::move(options));
    return *cache_;
  }
  std::set<std::int64_t> rule_ids(std::int64_t mb, const std::string& sender) {
    std::set<std::int64_t> ids;
    for (const auto& r : cache_->matching_rules(mb, sender)) ids.insert(r.id);
    return ids;
  }

  TempDir dir_;
  std::string path_ = dir_.file("policy.db");
  store::PolicyAdmin admin_{path_, {.create = true, .migrate = true}};
  store::SqlStore store_{path_};
  SourceLog log_;
  ManualClock clock_;
  std::unique_ptr<PolicyCache> cache_;
};

void expect_same(const std::optional<ProtectedMailbox>& got, const std::optional<ProtectedMailbox>& want) {
  ASSERT_EQ(got.has_value(), want.has_value());
  if (!got) return;
  EXPECT_EQ(got->id, want->id);
  EXPECT_EQ(got->address, want->address);
  EXPECT_EQ(got->mode, want->mode);
  EXPECT_EQ(got->guarded_intents, want->guarded_intents);
  EXPECT_EQ(got->trust, want->trust);
}

void expect_same(const std::vector<SenderRule>& got, const std::vector<SenderRule>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(got[i].id, want[i].id);
    EXPECT_EQ(got[i].mailbox_id, want[i].mailbox_id);
    EXPECT_EQ(got[i].pattern, want[i].pattern);
    EXPECT_EQ(got[i].context, want[i].context);
    EXPECT_EQ(got[i].origin, want[i].origin);
    EXPECT_EQ(got[i].created_at, want[i].created_at);
    EXPECT_EQ(got[i].created_by, want[i].created_by);
    EXPECT_EQ(got[i].note, want[i].note);
  }
}

// --- the store's semantics -----------------------------------------------------------------

TEST_F(PolicyCacheTest, FindMailboxAsTheStore) {
  ProtectedMailbox exact;
  exact.address = "Agent@Example.com";
  exact.mode = MailboxMode::report;
  exact.guarded_intents = {Intent::task_dispatch};
  exact.trust = trust_auth | trust_authres;
  const auto exact_id = admin_.add_mailbox(exact, kNow, "test");
  ProtectedMailbox domain;
  domain.address = "@example.com";
  domain.mode = MailboxMode::off;
  domain.guarded_intents = {};
  domain.trust = 0;
  const auto domain_id = admin_.add_mailbox(domain, kNow, "test");
  mailbox("@other.org");
  auto& c = cache();

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
      {"the domain row itself", "@example.com", domain_id},
      {"subdomain is not the domain", "bob@sub.example.com", std::nullopt},
      {"unprotected", "bob@example.net", std::nullopt},
      {"no at sign", "example.com", std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto got = c.find_mailbox(row.recipient);
    expect_same(got, store_.find_mailbox(row.recipient));
    ASSERT_EQ(got.has_value(), row.want.has_value());
    if (got) {
      EXPECT_EQ(got->id, *row.want);
    }
  }
  const auto e = c.find_mailbox("agent@example.com");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->mode, MailboxMode::report);
  EXPECT_EQ(e->trust, trust_auth | trust_authres);
}

TEST_F(PolicyCacheTest, MatchingRulesAsTheStore) {
  const auto mb = mailbox("agent@example.com");
  const auto other_mb = mailbox("other@example.com");
  const auto exact = rule(mb, "Alice@Partner.com");
  const auto domain = rule(mb, "@partner.com");
  const auto star_domain = rule(mb, "*@partner.com");  // canonical "@partner.com"
  const auto glob = rule(mb, "ci-*@partner.com");
  const auto any = rule(mb, "*");
  const auto sub = rule(mb, "*@*.partner.com");
  const auto paired_star = rule(mb, "*@partner.com", kNow, {}, RuleOrigin::paired);  // exact: covers only itself
  rule(other_mb, "alice@partner.com");
  rule(mb, "bob@partner.com");
  auto& c = cache();

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
      {"a paired '*' requester is itself", "*@partner.com", {domain, star_domain, any, paired_star}},
      {"a sender that is a domain", "@partner.com", {any}},
      {"no at sign", "partner.com", {any}},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    expect_same(c.matching_rules(mb, row.sender), store_.matching_rules(mb, row.sender));
    EXPECT_EQ(rule_ids(mb, row.sender), row.want);
  }
  EXPECT_TRUE(c.matching_rules(mb + other_mb + 100, "alice@partner.com").empty());
  EXPECT_EQ(c.rule_count(), 9u);
  EXPECT_EQ(c.mailbox_count(), 2u);
}

TEST_F(PolicyCacheTest, MatchingRulesOldestFirstWithTheirFields) {
  const auto mb = mailbox("agent@example.com");
  const auto newer = rule(mb, "@partner.com", kNow + 10, {{"source", {"github"}}});
  const auto older = rule(mb, "alice@partner.com", kNow - 10, {}, RuleOrigin::paired);
  const auto same_time_a = rule(mb, "*", kNow);
  const auto same_time_b = rule(mb, "a*@partner.com", kNow);
  const auto same_pattern = rule(mb, "alice@partner.com", kNow - 20);  // configured beside the paired one
  auto& c = cache();

  const auto got = c.matching_rules(mb, "alice@partner.com");
  expect_same(got, store_.matching_rules(mb, "alice@partner.com"));
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].id, same_pattern);
  EXPECT_EQ(got[1].id, older);
  EXPECT_EQ(got[2].id, same_time_a);
  EXPECT_EQ(got[3].id, same_time_b);
  EXPECT_EQ(got[4].id, newer);
  EXPECT_EQ(got[4].context, (ContextRules{{"source", {"github"}}}));
  EXPECT_EQ(got[1].origin, RuleOrigin::paired);
}

// --- refresh -------------------------------------------------------------------------------

TEST_F(PolicyCacheTest, ARefreshReloadsOnlyTheMailboxesThatChanged) {
  const auto a = mailbox("a@example.com");
  const auto b = mailbox("b@example.com");
  const auto kept = rule(b, "bob@partner.com");
  auto& c = cache();
  ASSERT_EQ(log_.full_loads, 1);

  c.refresh();  // nothing changed
  EXPECT_TRUE(log_.last_ids.empty());

  const auto r = rule(a, "alice@partner.com");
  EXPECT_TRUE(c.matching_rules(a, "alice@partner.com").empty());  // not yet
  c.refresh();
  EXPECT_EQ(log_.last_ids, std::vector<std::int64_t>{a});
  EXPECT_EQ(rule_ids(a, "alice@partner.com"), std::set<std::int64_t>{r});
  EXPECT_EQ(rule_ids(b, "bob@partner.com"), std::set<std::int64_t>{kept});
  EXPECT_EQ(c.rule_count(), 2u);

  const auto n = mailbox("new@example.com");
  c.refresh();
  EXPECT_EQ(log_.last_ids, std::vector<std::int64_t>{n});
  ASSERT_TRUE(c.find_mailbox("new@example.com"));
  EXPECT_EQ(c.find_mailbox("new@example.com")->id, n);

  store::MailboxChange off;
  off.mode = MailboxMode::off;
  admin_.update_mailbox("a@example.com", off, kNow);
  admin_.remove_rule(r);
  c.refresh();
  EXPECT_EQ(log_.last_ids, std::vector<std::int64_t>{a});
  EXPECT_EQ(c.find_mailbox("a@example.com")->mode, MailboxMode::off);
  EXPECT_TRUE(c.matching_rules(a, "alice@partner.com").empty());
  EXPECT_EQ(c.rule_count(), 1u);
  EXPECT_EQ(log_.full_loads, 1);
  EXPECT_EQ(c.seq(), [&] {  // the log's end, as the database has it
    auto conn = store::SqliteConnection::open(path_, {});
    auto st = conn->prepare("SELECT max(seq) FROM policy_changes");
    return st.step() ? st.int64(0) : -1;
  }());
}

TEST_F(PolicyCacheTest, ADeletedMailboxDisappearsWithItsRules) {
  const auto gone = mailbox("gone@example.com");
  rule(gone, "alice@partner.com");
  rule(gone, "*");
  const auto stays = mailbox("@example.com");
  rule(stays, "alice@partner.com");
  auto& c = cache();
  ASSERT_EQ(c.find_mailbox("gone@example.com")->id, gone);

  admin_.remove_mailbox("gone@example.com");
  c.refresh();
  EXPECT_EQ(log_.last_ids, std::vector<std::int64_t>{gone});
  EXPECT_EQ(c.find_mailbox("gone@example.com")->id, stays);  // the domain row covers it now
  EXPECT_TRUE(c.matching_rules(gone, "alice@partner.com").empty());
  EXPECT_EQ(c.rule_count(), 1u);
  EXPECT_EQ(c.mailbox_count(), 1u);
  expect_same(c.find_mailbox("gone@example.com"), store_.find_mailbox("gone@example.com"));
}

TEST_F(PolicyCacheTest, AnAddressTakenOverInOneRefreshNamesTheNewMailbox) {
  mailbox("agent@example.com");
  auto& c = cache();
  admin_.remove_mailbox("agent@example.com");
  const auto again = mailbox("agent@example.com", MailboxMode::report);
  c.refresh();
  ASSERT_TRUE(c.find_mailbox("agent@example.com"));
  EXPECT_EQ(c.find_mailbox("agent@example.com")->id, again);
  EXPECT_EQ(c.mailbox_count(), 1u);
}

TEST_F(PolicyCacheTest, ManyChangedMailboxesAreOneFullLoad) {
  for (int i = 0; i < 3; ++i) mailbox("m" + std::to_string(i) + "@example.com");
  auto& c = cache({.max_incremental = 2});
  for (int i = 3; i < 6; ++i) mailbox("m" + std::to_string(i) + "@example.com");
  c.refresh();
  EXPECT_EQ(log_.full_loads, 2);
  EXPECT_EQ(c.mailbox_count(), 6u);
}

TEST_F(PolicyCacheTest, ALongGapIsOneFullLoad) {
  mailbox("a@example.com");
  auto& c = cache({.full_reload_after = 1h});
  clock_.advance(2h);
  mailbox("b@example.com");
  c.refresh();
  EXPECT_EQ(log_.full_loads, 2);
  EXPECT_TRUE(c.find_mailbox("b@example.com"));
}

// --- staleness -----------------------------------------------------------------------------

TEST_F(PolicyCacheTest, AStaleCacheRefusesToAnswer) {
  const auto mb = mailbox("agent@example.com");
  auto& c = cache({.max_staleness = 1000ms});
  clock_.advance(1000ms);
  EXPECT_TRUE(c.find_mailbox("agent@example.com"));  // at the bound: still fresh

  log_.fail = true;
  EXPECT_THROW(c.refresh(), StoreError);
  EXPECT_NE(c.last_error().find("the test broke the source"), std::string::npos);
  clock_.advance(1ms);
  for (const auto& call : {std::function<void()>([&] { c.find_mailbox("agent@example.com"); }),
                           std::function<void()>([&] { c.matching_rules(mb, "alice@partner.com"); })}) {
    try {
      call();
      ADD_FAILURE() << "a stale cache answered";
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), StoreErrorKind::unavailable);
      EXPECT_NE(std::string(e.what()).find("policy cache is stale"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("the test broke the source"), std::string::npos) << e.what();
    }
  }

  log_.fail = false;
  c.refresh();
  EXPECT_EQ(c.last_error(), "");
  EXPECT_TRUE(c.find_mailbox("agent@example.com"));
}

TEST_F(PolicyCacheTest, AFailedFirstLoadThrows) {
  log_.fail = true;
  EXPECT_THROW(cache(), StoreError);
}

// --- the background thread -----------------------------------------------------------------

TEST_F(PolicyCacheTest, TheBackgroundThreadPicksAChangeUp) {
  // Real time here; staleness far away so that a slow machine cannot fail the lookups.
  PolicyCache c(std::make_unique<TestSource>(path_, log_),
                {.refresh_interval = 10ms, .max_staleness = std::chrono::hours(1)});
  EXPECT_FALSE(c.find_mailbox("agent@example.com"));
  const auto mb = mailbox("agent@example.com");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!c.find_mailbox("agent@example.com") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(c.find_mailbox("agent@example.com"));
  EXPECT_EQ(c.find_mailbox("agent@example.com")->id, mb);
}

TEST_F(PolicyCacheTest, DestructionStopsTheThreadInTheMiddleOfItsWait) {
  auto c = std::make_unique<PolicyCache>(std::make_unique<TestSource>(path_, log_),
                                         PolicyCacheOptions{.refresh_interval = std::chrono::hours(1)});
  auto gone = std::async(std::launch::async, [&] { c.reset(); });
  ASSERT_EQ(gone.wait_for(10s), std::future_status::ready);  // not an hour
  EXPECT_EQ(log_.change_reads, 0);
}

TEST_F(PolicyCacheTest, ReadersSeeWholeSnapshotsWhileRefreshesPublish) {
  const auto mb = mailbox("agent@example.com");
  const auto kept = rule(mb, "@partner.com");
  auto& c = cache();
  std::atomic<bool> done = false;
  std::atomic<int> bad = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!done) {
        const auto m = c.find_mailbox("agent@example.com");
        const auto rules = c.matching_rules(mb, "alice@partner.com");
        // The domain rule is always there; the exact one comes and goes, oldest first.
        if (!m || m->id != mb || rules.empty() || rules.front().id != kept || rules.size() > 2) ++bad;
      }
    });
  for (int i = 0; i < 20; ++i) {
    const auto r = rule(mb, "alice@partner.com", kNow + 1);
    c.refresh();
    admin_.remove_rule(r);
    c.refresh();
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(c.rule_count(), 1u);
}

TEST_F(PolicyCacheTest, MemoryEstimateGrowsWithTheRules) {
  const auto mb = mailbox("agent@example.com");
  auto& c = cache();
  const auto empty = c.memory_bytes();
  for (int i = 0; i < 100; ++i) rule(mb, "sender-with-a-long-name-" + std::to_string(i) + "@partner.example.com");
  c.refresh();
  EXPECT_EQ(c.rule_count(), 100u);
  EXPECT_GT(c.memory_bytes(), empty + 100 * sizeof(CachedRule));
}

}  // namespace
}  // namespace aamp::test
