// metrics_test.cpp — the Prometheus text format (metrics/exposition), the aamp_* metrics
// (metrics/aamp_metrics: labels from the name tables, refusals, store errors, the
// histogram's buckets, concurrent recording), /healthz's verdict (metrics/health) and the
// daemon's scrape and health over a real outbox (milter/daemon_metrics with MemoryStore).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "metrics/aamp_metrics.hpp"
#include "metrics/exposition.hpp"
#include "metrics/health.hpp"
#include "milter/daemon_metrics.hpp"
#include "tests/support/memory_store.hpp"

namespace aamp::metrics {
namespace {

using namespace std::chrono_literals;

TEST(Exposition, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  EXPECT_EQ(escape_help("one\\two\nthree \"q\""), "one\\\\two\\nthree \"q\"");
}

TEST(Exposition, Values) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(format_value(1.0 / 3)), 1.0 / 3);  // round-trips
}

TEST(Exposition, FamiliesWithHelpTypeAndSamples) {
  std::vector<Family> fs;
  fs.push_back(Family{"x_total", "Things\ncounted.", Type::counter,
                      {Sample{"", {{"a", "1"}, {"b", "q\"uote"}}, 3}, Sample{"", {}, 0}}});
  fs.push_back(Family{"h_seconds", "A histogram.", Type::histogram,
                      {Sample{"_bucket", {{"le", "+Inf"}}, 2}, Sample{"_sum", {}, 0.5}, Sample{"_count", {}, 2}}});
  EXPECT_EQ(format(fs),
            "# HELP x_total Things\\ncounted.\n"
            "# TYPE x_total counter\n"
            "x_total{a=\"1\",b=\"q\\\"uote\"} 3\n"
            "x_total 0\n"
            "# HELP h_seconds A histogram.\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"+Inf\"} 2\n"
            "h_seconds_sum 0.5\n"
            "h_seconds_count 2\n");
}

TEST(Exposition, RejectsBadNames) {
  EXPECT_TRUE(valid_metric_name("aamp_x:y_1"));
  EXPECT_FALSE(valid_metric_name("1x"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("__reserved"));
  EXPECT_THROW(format({Family{"bad-name", "", Type::gauge, {}}}), std::invalid_argument);
  EXPECT_THROW(format({Family{"ok", "", Type::gauge, {Sample{"", {{"bad-label", "v"}}, 1}}}}), std::invalid_argument);
}

const Family& family(const std::vector<Family>& fs, std::string_view name) {
  for (const auto& f : fs)
    if (f.name == name) return f;
  throw std::runtime_error("no family " + std::string(name));
}

double value(const std::vector<Family>& fs, std::string_view name, const std::vector<Label>& want,
             std::string_view suffix = "") {
  const Family& f = family(fs, name);
  for (const auto& s : f.samples) {
    if (s.suffix != suffix) continue;
    bool all = true;
    for (const auto& w : want) {
      bool found = false;
      for (const auto& l : s.labels) found = found || (l.name == w.name && l.value == w.value);
      all = all && found;
    }
    if (all) return s.value;
  }
  return 0;
}

Decision decided(AuditVerdict verdict, std::string intent) {
  Decision d;
  d.verdict = verdict;
  d.intent = std::move(intent);
  return d;
}

TEST(AampMetrics, EveryNameIsPrefixedAndExportedOnce) {
  AampMetrics m("9.9.9");
  const auto fs = m.collect();
  ASSERT_EQ(fs.size(), kMetricNames.size());
  for (std::size_t i = 0; i < fs.size(); ++i) {
    EXPECT_EQ(fs[i].name, kMetricNames[i]);
    EXPECT_TRUE(fs[i].name.starts_with("aamp_"));
    EXPECT_FALSE(fs[i].help.empty());
  }
  EXPECT_EQ(value(fs, kBuildInfo, {{"version", "9.9.9"}}), 1);
  EXPECT_TRUE(family(fs, kDecisions).samples.empty());  // only combinations seen
  EXPECT_EQ(family(fs, kStoreErrors).samples.size(), kStoreErrorKindNames.size());
  EXPECT_EQ(family(fs, kRefusals).samples.size(), kRefusalClassNames.size());
}

TEST(AampMetrics, DecisionsByVerdictIntentAndMode) {
  AampMetrics m("1");
  m.decision(decided(AuditVerdict::allow, "task.dispatch"), EnforcementMode::enforce, 1ms);
  m.decision(decided(AuditVerdict::allow, "task.dispatch"), EnforcementMode::enforce, 1ms);
  m.decision(decided(AuditVerdict::report_deny, "card.query"), EnforcementMode::report, 1ms);
  m.decision(decided(AuditVerdict::invalid, "task.explode\"{"), EnforcementMode::enforce, 1ms);
  m.decision(decided(AuditVerdict::store_error, ""), EnforcementMode::enforce, 1ms);
  const auto fs = m.collect();
  EXPECT_EQ(value(fs, kDecisions, {{"verdict", "allow"}, {"intent", "task.dispatch"}, {"mode", "enforce"}}), 2);
  EXPECT_EQ(value(fs, kDecisions, {{"verdict", "report-deny"}, {"intent", "card.query"}, {"mode", "report"}}), 1);
  EXPECT_EQ(value(fs, kDecisions, {{"verdict", "invalid"}, {"intent", "other"}, {"mode", "enforce"}}), 1);
  EXPECT_EQ(value(fs, kDecisions, {{"verdict", "store-error"}, {"intent", "none"}, {"mode", "enforce"}}), 1);
  EXPECT_EQ(family(fs, kDecisions).samples.size(), 4U);
  EXPECT_EQ(format(fs).find("explode"), std::string::npos);  // the sender's text is no label
}

TEST(AampMetrics, RefusalsAndStoreErrors) {
  AampMetrics m("1");
  Decision d = decided(AuditVerdict::deny, "task.dispatch");
  d.action = Action::reject;
  d.recipients.push_back({"<a@x>", true, true, AuditVerdict::deny, "", RefusalClass::policy_deny});
  d.recipients.push_back({"<b@x>", true, true, AuditVerdict::invalid, "", RefusalClass::bad_message});
  d.recipients.push_back({"<c@x>", true, false, AuditVerdict::allow, "", std::nullopt});
  m.decision(d, EnforcementMode::enforce, 1ms);

  // A store failure after a judgement applies none of it: its refusals do not count.
  Decision failed = d;
  failed.verdict = AuditVerdict::store_error;
  failed.action = Action::tempfail;
  failed.store_error = StoreErrorKind::busy;
  m.decision(failed, EnforcementMode::enforce, 1ms);

  Decision big = decided(AuditVerdict::too_large, "");
  big.action = Action::reject;
  m.decision(big, EnforcementMode::enforce, 1ms);
  m.store_error(StoreErrorKind::unavailable);

  const auto fs = m.collect();
  EXPECT_EQ(value(fs, kRefusals, {{"class", "policy-deny"}}), 1);
  EXPECT_EQ(value(fs, kRefusals, {{"class", "bad-message"}}), 2);
  EXPECT_EQ(value(fs, kStoreErrors, {{"kind", "busy"}}), 1);
  EXPECT_EQ(value(fs, kStoreErrors, {{"kind", "unavailable"}}), 1);
  EXPECT_EQ(value(fs, kStoreErrors, {{"kind", "io"}}), 0);
}

TEST(AampMetrics, HistogramBucketsAreCumulativeAndConsistent) {
  AampMetrics m("1");
  m.decision(decided(AuditVerdict::allow, ""), EnforcementMode::enforce, 100us);  // <= 0.0005
  m.decision(decided(AuditVerdict::allow, ""), EnforcementMode::enforce, 1ms);    // == 0.001: le is inclusive
  m.decision(decided(AuditVerdict::allow, ""), EnforcementMode::enforce, 30ms);   // <= 0.05
  m.decision(decided(AuditVerdict::allow, ""), EnforcementMode::enforce, 60s);    // +Inf only
  const auto fs = m.collect();
  EXPECT_EQ(value(fs, kDecisionDuration, {{"le", "0.0005"}}, "_bucket"), 1);
  EXPECT_EQ(value(fs, kDecisionDuration, {{"le", "0.001"}}, "_bucket"), 2);
  EXPECT_EQ(value(fs, kDecisionDuration, {{"le", "0.025"}}, "_bucket"), 2);
  EXPECT_EQ(value(fs, kDecisionDuration, {{"le", "0.05"}}, "_bucket"), 3);
  EXPECT_EQ(value(fs, kDecisionDuration, {{"le", "10"}}, "_bucket"), 3);
  EXPECT_EQ(value(fs, kDecisionDuration, {{"le", "+Inf"}}, "_bucket"), 4);
  EXPECT_EQ(value(fs, kDecisionDuration, {}, "_count"), 4);
  EXPECT_NEAR(value(fs, kDecisionDuration, {}, "_sum"), 60.0311, 1e-9);
}

TEST(AampMetrics, GaugesAndReplies) {
  AampMetrics m("1");
  m.connection_opened();
  m.connection_opened();
  m.connection_closed();
  m.config_generation(3);
  m.outbox(5, 120);
  m.reply_attempt(AuditVerdict::reply_sent);
  m.reply_attempt(AuditVerdict::reply_deferred);
  m.reply_attempt(AuditVerdict::reply_deferred);
  m.reply_attempt(AuditVerdict::allow);  // not a reply verdict: ignored
  const auto fs = m.collect();
  EXPECT_EQ(value(fs, kMtaConnections, {}), 1);
  EXPECT_EQ(value(fs, kConfigGeneration, {}), 3);
  EXPECT_EQ(value(fs, kOutboxDepth, {}), 5);
  EXPECT_EQ(value(fs, kOutboxOldestAge, {}), 120);
  EXPECT_EQ(value(fs, kReplySends, {{"result", "reply-sent"}}), 1);
  EXPECT_EQ(value(fs, kReplySends, {{"result", "reply-deferred"}}), 2);
  EXPECT_EQ(value(fs, kReplySends, {{"result", "reply-abandoned"}}), 0);
}

TEST(AampMetrics, ConcurrentRecordingLosesNothing) {
  AampMetrics m("1");
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        m.decision(decided(AuditVerdict::allow, "task.result"), EnforcementMode::enforce, 2ms);
        m.connection_opened();
        m.connection_closed();
        (void)m.exposition();  // a scrape meanwhile
      }
    });
  for (auto& t : ts) t.join();
  const auto fs = m.collect();
  EXPECT_EQ(value(fs, kDecisions, {{"verdict", "allow"}, {"intent", "task.result"}}), kThreads * kEach);
  EXPECT_EQ(value(fs, kDecisionDuration, {}, "_count"), kThreads * kEach);
  EXPECT_EQ(value(fs, kMtaConnections, {}), 0);
}

TEST(Health, AllGoodIs200) {
  HealthFacts f;
  f.store_ok = true;
  f.worker_running = true;
  f.heartbeat_age = 3;
  f.heartbeat_limit = 345;
  f.config_loaded = true;
  f.config_generation = 2;
  const HealthReport r = assess(f);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "store: ok\noutbox-worker: ok (last pass 3 s ago, limit 345 s)\nconfig: ok (generation 2)\n");
}

TEST(Health, EachFailureIs503AndNamed) {
  HealthFacts good;
  good.store_ok = true;
  good.worker_running = true;
  good.heartbeat_limit = 10;
  good.config_loaded = true;
  good.config_generation = 1;

  HealthFacts store = good;
  store.store_ok = false;
  store.store_detail = "database gone";
  EXPECT_EQ(assess(store).status, 503);
  EXPECT_EQ(assess(store).body.substr(0, 29), "store: fail (database gone)\no");

  HealthFacts stuck = good;
  stuck.heartbeat_age = 11;
  EXPECT_EQ(assess(stuck).status, 503);
  EXPECT_NE(assess(stuck).body.find("outbox-worker: fail (last pass 11 s ago, limit 10 s)"), std::string::npos);

  HealthFacts stopped = good;
  stopped.worker_running = false;
  EXPECT_NE(assess(stopped).body.find("outbox-worker: fail (not running)"), std::string::npos);

  HealthFacts none = good;
  none.config_loaded = false;
  EXPECT_EQ(assess(none).status, 503);
  EXPECT_NE(assess(none).body.find("config: fail (none loaded)"), std::string::npos);
}

class FixedClock final : public Clock {
 public:
  UnixTime now() const override { return t; }
  UnixTime t = 1'000'000;
};

TEST(DaemonMetrics, ScrapeReadsTheOutboxBacklog) {
  test::MemoryStore store;
  FixedClock clock;
  AampMetrics m("1");
  OutboxReply r;
  r.message_id = "<a@x>";
  r.from = "agent@x";
  r.to = "alice@y";
  r.created_at = clock.t - 10;
  store.enqueue_reply(r);
  r.created_at = clock.t - 300;
  r.message_id = "<b@x>";
  store.enqueue_reply(r);
  std::string text = milter::scrape_metrics(m, store, clock);
  EXPECT_NE(text.find("\naamp_outbox_depth 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\naamp_outbox_oldest_age_seconds 300\n"), std::string::npos) << text;

  // A store that fails the query: counted by kind, the gauges keep their last values.
  store.fail_next(StoreErrorKind::io, "backlog");
  text = milter::scrape_metrics(m, store, clock);
  EXPECT_NE(text.find("aamp_store_errors_total{kind=\"io\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\naamp_outbox_depth 2\n"), std::string::npos) << text;
}

TEST(DaemonMetrics, HealthOfAWorkerAndAStore) {
  test::MemoryStore store;
  FixedClock clock;
  milter::WorkerBeat beat{true, clock.t - 5, 15s};
  EXPECT_EQ(milter::heartbeat_limit(15s), 345);
  EXPECT_EQ(milter::check_health(store, clock, beat, true, 1).status, 200);
  beat.heartbeat = clock.t - 346;
  EXPECT_EQ(milter::check_health(store, clock, beat, true, 1).status, 503);
  beat.heartbeat = 0;  // never woke
  EXPECT_EQ(milter::check_health(store, clock, beat, true, 1).status, 503);
  beat.heartbeat = clock.t;
  store.fail_next(StoreErrorKind::unavailable, "backlog");
  const HealthReport r = milter::check_health(store, clock, beat, true, 1);
  EXPECT_EQ(r.status, 503);
  EXPECT_TRUE(r.body.starts_with("store: fail (")) << r.body;
  const HealthReport unloaded = milter::check_health(store, clock, beat, false, 0);
  EXPECT_EQ(unloaded.status, 503);
  EXPECT_NE(unloaded.body.find("config: fail (none loaded)"), std::string::npos) << unloaded.body;
}

}  // namespace
}  // namespace aamp::metrics
