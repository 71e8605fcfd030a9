// store_bench.cpp — the SQLite store's hot paths on real database files: sender-rule lookup
// at 1k / 100k / 1M rules (the brief's bound: well under 50 µs at 1M), mailbox lookup,
// an audit row, and a pair-code redemption (one write transaction). The reference in the
// same run is BM_StoreReference: borrowing a pooled connection and reading one row by its
// primary key — the floor any store call pays (a read transaction: WAL read lock, b-tree
// descent). Databases are built once per size in a temporary
// directory (one transaction, one prepared statement) and removed at exit.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "store/admin.hpp"
#include "store/sql_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace {

using aamp::PairAttempt;
using aamp::PairCheck;
using aamp::PairEffects;
using aamp::ProtectedMailbox;
using aamp::RuleOrigin;
using aamp::SenderRule;
using aamp::UnixTime;

constexpr UnixTime kNow = 1'800'000'000;
constexpr int kMailboxes = 10;
constexpr int kDomainRulesPerMailbox = 20;
constexpr int kWildcardRulesPerMailbox = 5;

// One populated database per rule count: kMailboxes mailboxes; in each, exact-address
// rules (the bulk), kDomainRulesPerMailbox @domain rules and kWildcardRulesPerMailbox
// '*' patterns. Lookups go to mailbox 1 for senders that have an exact rule (half) or
// none (half).
struct RuleDb {
  aamp::test::TempDir dir;
  std::string path = dir.file("bench.db");
  std::vector<std::int64_t> mailbox_ids;
  std::unique_ptr<aamp::store::SqlStore> store;

  explicit RuleDb(std::int64_t rules) {
    aamp::store::PolicyAdmin admin(path, {.create = true, .migrate = true});
    for (int m = 0; m < kMailboxes; ++m) {
      ProtectedMailbox mb;
      mb.address = "agent" + std::to_string(m) + "@example.com";
      mailbox_ids.push_back(admin.add_mailbox(mb, kNow, "bench"));
    }
    const std::int64_t special = kMailboxes * (kDomainRulesPerMailbox + kWildcardRulesPerMailbox);
    const std::int64_t exact = std::max<std::int64_t>(0, rules - special);
    admin.insert_rules(rules, [&](std::int64_t i) {
      SenderRule r;
      r.created_at = kNow - rules + i;
      r.created_by = "bench";
      r.origin = i % 7 == 0 ? RuleOrigin::paired : RuleOrigin::configured;
      if (i < exact) {
        r.mailbox_id = mailbox_ids[static_cast<std::size_t>(i % kMailboxes)];
        r.pattern = "sender" + std::to_string(i / kMailboxes) + "@d" + std::to_string(i % 1000) + ".example.net";
        if (i % 3 == 0) r.context = {{"source", {"github", "feishu"}}};
      } else {
        const std::int64_t j = i - exact;
        r.origin = RuleOrigin::configured;
        r.mailbox_id = mailbox_ids[static_cast<std::size_t>(j % kMailboxes)];
        const std::int64_t k = j / kMailboxes;
        r.pattern = k < kDomainRulesPerMailbox ? "@d" + std::to_string(k) + ".example.net"
                                               : "ci-" + std::to_string(k) + "-*@*.example.org";
      }
      return r;
    });
    store = std::make_unique<aamp::store::SqlStore>(path);
  }
};

RuleDb& rule_db(std::int64_t rules) {
  static std::map<std::int64_t, std::unique_ptr<RuleDb>> dbs;
  auto& db = dbs[rules];
  if (!db) db = std::make_unique<RuleDb>(rules);
  return *db;
}

void BM_StoreReference(benchmark::State& state) {
  auto& db = rule_db(1000);
  aamp::store::ConnectionPool pool(db.path, {}, 1);
  for (auto _ : state) {
    auto conn = pool.acquire();
    auto st = conn->prepare("SELECT id FROM mailboxes WHERE id = 1");
    benchmark::DoNotOptimize(st.step());
  }
}
BENCHMARK(BM_StoreReference);

void BM_MatchingRules(benchmark::State& state) {
  const std::int64_t rules = state.range(0);
  auto& db = rule_db(rules);
  const std::int64_t exact = rules - kMailboxes * (kDomainRulesPerMailbox + kWildcardRulesPerMailbox);
  std::mt19937_64 rng(42);
  std::vector<std::string> senders;
  for (int i = 0; i < 4096; ++i) {
    // Mailbox index 0 owns rules i with i % kMailboxes == 0.
    const std::int64_t n = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(exact / kMailboxes));
    const std::int64_t rule_index = n * kMailboxes;
    if (i % 2 == 0)
      senders.push_back("sender" + std::to_string(n) + "@d" + std::to_string(rule_index % 1000) + ".example.net");
    else
      senders.push_back("stranger" + std::to_string(n) + "@d" + std::to_string(n % 40) + ".example.net");
  }
  const auto mailbox = db.mailbox_ids[0];
  std::size_t i = 0;
  std::size_t found = 0;
  for (auto _ : state) {
    const auto r = db.store->matching_rules(mailbox, senders[i++ & 4095]);
    found += r.size();
    benchmark::DoNotOptimize(r.data());
  }
  state.counters["rules_per_lookup"] = benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MatchingRules)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMicrosecond);

void BM_FindMailbox(benchmark::State& state) {
  auto& db = rule_db(1000);
  std::size_t i = 0;
  const std::string recipients[] = {"agent3@example.com", "nobody@example.com", "AGENT7@EXAMPLE.COM", "x@other.org"};
  for (auto _ : state) benchmark::DoNotOptimize(db.store->find_mailbox(recipients[i++ & 3]));
}
BENCHMARK(BM_FindMailbox)->Unit(benchmark::kMicrosecond);

void BM_RecordAudit(benchmark::State& state) {
  auto& db = rule_db(1000);
  aamp::AuditRecord a;
  a.at = kNow;
  a.message_id = "4XyZ1";
  a.client_addr = "192.0.2.1";
  a.envelope_from = a.header_from = "alice@partner.com";
  a.recipient = "agent0@example.com";
  a.intent = "task.dispatch";
  a.task_id = "t-1";
  a.verdict = aamp::AuditVerdict::allow;
  a.reason = "rule 7 allows";
  a.rule_id = 7;
  for (auto _ : state) db.store->record_audit(a);
}
BENCHMARK(BM_RecordAudit)->Unit(benchmark::kMicrosecond);

constexpr int kRedemptions = 5000;

// Each iteration consumes a fresh live code: lockout check, lookup, consume, paired-rule
// upsert, audit row and outbox row in one BEGIN IMMEDIATE transaction.
void BM_RedeemPairCode(benchmark::State& state) {
  aamp::test::TempDir dir;
  const std::string path = dir.file("pair.db");
  std::vector<std::string> codes;
  std::int64_t mailbox = 0;
  {
    aamp::store::PolicyAdmin admin(path, {.create = true, .migrate = true});
    ProtectedMailbox mb;
    mb.address = "agent@example.com";
    mailbox = admin.add_mailbox(mb, kNow, "bench");
    for (int i = 0; i < kRedemptions; ++i) {
      codes.push_back("bench-code-" + std::to_string(i));
      admin.add_pair_code(mailbox, codes.back(), kNow, kNow + 300, {{"source", {"github"}}}, "bench");
    }
  }
  aamp::store::SqlStore store(path);
  std::size_t i = 0;
  std::int64_t completed = 0;
  for (auto _ : state) {
    PairAttempt a;
    a.mailbox_id = mailbox;
    a.requester = "peer" + std::to_string(i % 100) + "@partner.com";
    a.code = codes[i];
    a.now = kNow;
    const auto r = store.redeem_pair_code(a, [&](const PairCheck& check) {
      PairEffects fx;
      fx.rules_to_grant = check.issued_rules;
      fx.audit.at = kNow;
      fx.audit.verdict = aamp::AuditVerdict::pair_completed;
      fx.reply = aamp::OutboxReply{};
      fx.reply->message_id = "<r" + std::to_string(i) + "@example.com>";
      fx.reply->task_id = "t";
      return fx;
    });
    completed += r.check.outcome == aamp::PairOutcome::completed ? 1 : 0;
    ++i;
  }
  if (completed != static_cast<std::int64_t>(state.iterations())) state.SkipWithError("a redemption did not complete");
}
BENCHMARK(BM_RedeemPairCode)->Iterations(kRedemptions)->Unit(benchmark::kMicrosecond);

}  // namespace
