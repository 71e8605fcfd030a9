// policy_cache_bench.cpp — the policy cache (store/policy_cache.*): what its lookups cost
// beside the same lookups in SQL (the SQLite store on a database holding the same rules),
// and the memory it takes at 100,000 rules over 1,000 mailboxes and at 1,000,000 rules
// (resident set size before and after the load, from /proc/self/statm, and the cache's own
// estimate; both printed as counters, in MiB and bytes per rule).
// Rules are made as store_bench makes them: exact-address rules (a third with context
// rules), 20 @domain and 5 '*' rules per mailbox. The cache loads them from an in-memory
// PolicySource (no SQL driver behind store/sql.hpp yet); its strings are the same sizes.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "policy/sender_pattern.hpp"
#include "store/admin.hpp"
#include "store/policy_cache.hpp"
#include "store/sql_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using aamp::PatternKind;
using aamp::ProtectedMailbox;
using aamp::RuleOrigin;
using aamp::SenderRule;
using aamp::UnixTime;
using aamp::store::CachedRule;
using aamp::store::MailboxRows;
using aamp::store::PolicyCache;
using aamp::store::PolicyLoad;

constexpr UnixTime kNow = 1'800'000'000;
constexpr int kMailboxes = 1000;
constexpr int kDomainRulesPerMailbox = 20;
constexpr int kWildcardRulesPerMailbox = 5;

std::string mailbox_address(int m) { return "agent" + std::to_string(m) + "@example.com"; }

// Rule i of `rules`; its mailbox is the index i % kMailboxes (ids are that + 1).
CachedRule make_rule(std::int64_t rules, std::int64_t i) {
  const std::int64_t special = kMailboxes * (kDomainRulesPerMailbox + kWildcardRulesPerMailbox);
  const std::int64_t exact = std::max<std::int64_t>(0, rules - special);
  CachedRule c;
  SenderRule& r = c.rule;
  r.id = i + 1;
  r.created_at = kNow - rules + i;
  r.created_by = "bench";
  r.origin = i % 7 == 0 ? RuleOrigin::paired : RuleOrigin::configured;
  r.mailbox_id = i % kMailboxes + 1;
  if (i < exact) {
    r.pattern = "sender" + std::to_string(i / kMailboxes) + "@d" + std::to_string(i % 1000) + ".example.net";
    if (i % 3 == 0) r.context = {{"source", {"github", "feishu"}}};
  } else {
    const std::int64_t k = (i - exact) / kMailboxes;
    r.origin = RuleOrigin::configured;
    r.pattern = k < kDomainRulesPerMailbox ? "@d" + std::to_string(k) + ".example.net"
                                           : "ci-" + std::to_string(k) + "-*@*.example.org";
    c.kind = k < kDomainRulesPerMailbox ? PatternKind::domain : PatternKind::wildcard;
  }
  return c;
}

// Everything made on demand: the cache's load is the only copy.
class GeneratedSource final : public aamp::store::PolicySource {
 public:
  explicit GeneratedSource(std::int64_t rules) : rules_(rules) {}
  PolicyLoad load_all() override {
    PolicyLoad load;
    load.mailboxes.resize(kMailboxes);
    for (int m = 0; m < kMailboxes; ++m) {
      load.mailboxes[static_cast<std::size_t>(m)].mailbox.id = m + 1;
      load.mailboxes[static_cast<std::size_t>(m)].mailbox.address = mailbox_address(m);
    }
    for (std::int64_t i = 0; i < rules_; ++i)
      load.mailboxes[static_cast<std::size_t>(i % kMailboxes)].rules.push_back(make_rule(rules_, i));
    return load;
  }
  std::vector<aamp::store::PolicyChange> changes_since(std::int64_t) override { return {}; }
  std::int64_t last_seq() override { return 0; }
  std::vector<MailboxRows> load_mailboxes(std::span<const std::int64_t>) override { return {}; }
  const std::string& name() const noexcept override { return name_; }

 private:
  std::int64_t rules_;
  std::string name_ = "generated";
};

std::unique_ptr<PolicyCache> make_cache(std::int64_t rules) {
  // Refreshes find nothing; staleness far away, so a lookup never throws here.
  return std::make_unique<PolicyCache>(std::make_unique<GeneratedSource>(rules),
                                       aamp::store::PolicyCacheOptions{.max_staleness = std::chrono::hours(24)});
}

double rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  double size = 0;
  double resident = 0;
  statm >> size >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Senders for mailbox index 0: half have an exact rule there, half none.
std::vector<std::string> senders(std::int64_t rules) {
  const std::int64_t exact = rules - kMailboxes * (kDomainRulesPerMailbox + kWildcardRulesPerMailbox);
  std::mt19937_64 rng(42);
  std::vector<std::string> out;
  for (int i = 0; i < 4096; ++i) {
    const std::int64_t n = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(exact / kMailboxes));
    const std::int64_t rule_index = n * kMailboxes;
    if (i % 2 == 0)
      out.push_back("sender" + std::to_string(n) + "@d" + std::to_string(rule_index % 1000) + ".example.net");
    else
      out.push_back("stranger" + std::to_string(n) + "@d" + std::to_string(n % 40) + ".example.net");
  }
  return out;
}

// Iterations(1): one load, its time and the memory it took.
void BM_PolicyCacheMemory(benchmark::State& state) {
  const std::int64_t rules = state.range(0);
  for (auto _ : state) {
    const double before = rss_bytes();
    const auto start = std::chrono::steady_clock::now();
    auto cache = make_cache(rules);
    const auto took = std::chrono::steady_clock::now() - start;
    const double after = rss_bytes();
    const double mib = 1024.0 * 1024.0;
    state.counters["rss_MiB"] = (after - before) / mib;
    state.counters["rss_B_per_rule"] = (after - before) / static_cast<double>(rules);
    state.counters["estimate_MiB"] = static_cast<double>(cache->memory_bytes()) / mib;
    state.counters["load_ms"] = std::chrono::duration<double, std::milli>(took).count();
    if (cache->rule_count() != static_cast<std::size_t>(rules)) state.SkipWithError("rules missing");
  }
}
BENCHMARK(BM_PolicyCacheMemory)->Arg(100'000)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_PolicyCacheMatchingRules(benchmark::State& state) {
  const std::int64_t rules = state.range(0);
  static std::map<std::int64_t, std::unique_ptr<PolicyCache>> caches;
  auto& cache = caches[rules];
  if (!cache) cache = make_cache(rules);
  const auto from = senders(rules);
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    const auto r = cache->matching_rules(1, from[i++ & 4095]);
    found += r.size();
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["rules_per_lookup"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_PolicyCacheMatchingRules)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_PolicyCacheFindMailbox(benchmark::State& state) {
  static const auto cache = make_cache(100'000);
  const std::string recipients[] = {"agent3@example.com", "nobody@example.com", "AGENT7@EXAMPLE.COM", "x@other.org"};
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache->find_mailbox(recipients[i++ & 3]));
}
BENCHMARK(BM_PolicyCacheFindMailbox)->Unit(benchmark::kMicrosecond);

// The same rules in SQLite, asked through today's store: what the cache saves.
struct SqlDb {
  aamp::test::TempDir dir;
  std::string path = dir.file("policy_cache_bench.db");
  std::unique_ptr<aamp::store::SqlStore> store;
  explicit SqlDb(std::int64_t rules) {
    aamp::store::PolicyAdmin admin(path, {.create = true, .migrate = true});
    for (int m = 0; m < kMailboxes; ++m) {
      ProtectedMailbox mb;
      mb.address = mailbox_address(m);
      admin.add_mailbox(mb, kNow, "bench");  // ids 1..kMailboxes in order
    }
    admin.insert_rules(rules, [&](std::int64_t i) { return make_rule(rules, i).rule; });
    store = std::make_unique<aamp::store::SqlStore>(path);
  }
};

SqlDb& sql_db() {
  static SqlDb db(100'000);
  return db;
}

void BM_PolicyCacheSqlMatchingRules(benchmark::State& state) {
  auto& db = sql_db();
  const auto from = senders(100'000);
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    const auto r = db.store->matching_rules(1, from[i++ & 4095]);
    found += r.size();
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["rules_per_lookup"] = static_cast<double>(found) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_PolicyCacheSqlMatchingRules)->Unit(benchmark::kMicrosecond);

void BM_PolicyCacheSqlFindMailbox(benchmark::State& state) {
  auto& db = sql_db();
  const std::string recipients[] = {"agent3@example.com", "nobody@example.com", "AGENT7@EXAMPLE.COM", "x@other.org"};
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(db.store->find_mailbox(recipients[i++ & 3]));
}
BENCHMARK(BM_PolicyCacheSqlFindMailbox)->Unit(benchmark::kMicrosecond);

}  // namespace
