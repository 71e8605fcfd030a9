// aamp_metrics.hpp — every metric the daemon exports, each name prefixed aamp_, with its
// labels spelled by policy/'s name tables (one name per enum value). Recording is a
// relaxed atomic add into a slot fixed at construction (every label combination is known
// in advance: verdicts, intents, modes, classes, kinds), so the hot path takes no lock and
// allocates nothing. collect() reads the slots for a scrape.
// Threading: every member may be called from any thread at any time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exposition.hpp"
#include "policy/audit_verdict.hpp"
#include "policy/decision.hpp"
#include "policy/intent.hpp"
#include "policy/policy.hpp"
#include "policy/store.hpp"

namespace aamp::metrics {

// The metric names, in the order they are exported.
inline constexpr std::string_view kDecisions = "aamp_decisions_total";
inline constexpr std::string_view kRefusals = "aamp_refusals_total";
inline constexpr std::string_view kStoreErrors = "aamp_store_errors_total";
inline constexpr std::string_view kDecisionDuration = "aamp_decision_duration_seconds";
inline constexpr std::string_view kOutboxDepth = "aamp_outbox_depth";
inline constexpr std::string_view kOutboxOldestAge = "aamp_outbox_oldest_age_seconds";
inline constexpr std::string_view kReplySends = "aamp_reply_sends_total";
inline constexpr std::string_view kMtaConnections = "aamp_mta_connections";
inline constexpr std::string_view kConfigGeneration = "aamp_config_generation";
inline constexpr std::string_view kBuildInfo = "aamp_build_info";
inline constexpr std::array<std::string_view, 10> kMetricNames{
    kDecisions, kRefusals, kStoreErrors, kDecisionDuration, kOutboxDepth, kOutboxOldestAge,
    kReplySends, kMtaConnections, kConfigGeneration, kBuildInfo};

// The intent label: an intent's own name, "none" when the message named none (not AAMP, or
// a failure before the intent was read), "other" for a value that is not an AAMP intent
// (an invalid message: the header's text never becomes a label, so a sender cannot grow
// the number of series).
inline constexpr std::string_view kNoIntent = "none";
inline constexpr std::string_view kOtherIntent = "other";

// Upper bounds of the latency buckets, seconds (+Inf is implied).
inline constexpr std::array<double, 14> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};

class AampMetrics {
 public:
  explicit AampMetrics(std::string version);
  AampMetrics(const AampMetrics&) = delete;
  AampMetrics& operator=(const AampMetrics&) = delete;

  // One decided message: its overall verdict, intent and the configured Mode; each refused
  // recipient's refusal class; the store error's kind when the store failed; the time
  // decide() took.
  void decision(const Decision& d, EnforcementMode mode, std::chrono::nanoseconds latency) noexcept;
  // One reply attempt of the outbox worker: reply_sent, reply_deferred or reply_abandoned.
  void reply_attempt(AuditVerdict verdict) noexcept;
  // A store error outside decide() (the outbox worker's queries).
  void store_error(StoreErrorKind kind) noexcept;
  void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }
  // A configuration was loaded (1 at start, +1 per successful reload).
  void config_generation(std::int64_t generation) noexcept { generation_.store(generation, std::memory_order_relaxed); }
  // What the outbox holds unsent, and how old its oldest unsent reply is (0 when empty).
  void outbox(std::int64_t depth, std::int64_t oldest_age_seconds) noexcept;

  std::vector<Family> collect() const;
  std::string exposition() const { return format(collect()); }

 private:
  static constexpr std::size_t kVerdicts = kAuditVerdictNames.size();
  static constexpr std::size_t kIntents = kIntentNames.size() + 2;  // + none, other
  static constexpr std::size_t kModes = kEnforcementModeNames.size();
  using Counter = std::atomic<std::uint64_t>;

  std::string version_;
  std::array<Counter, kVerdicts * kIntents * kModes> decisions_{};
  std::array<Counter, kRefusalClassNames.size()> refusals_{};
  std::array<Counter, kStoreErrorKindNames.size()> store_errors_{};
  std::array<Counter, kLatencyBuckets.size() + 1> latency_buckets_{};  // not cumulative; last: +Inf
  std::atomic<std::uint64_t> latency_sum_ns_{0};
  std::array<Counter, 3> replies_{};  // reply-sent, reply-deferred, reply-abandoned
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::int64_t> generation_{0};
  std::atomic<std::int64_t> outbox_depth_{0};
  std::atomic<std::int64_t> outbox_oldest_age_{0};
};

}  // namespace aamp::metrics
