// aamp_metrics.cpp — the aamp_* metrics (aamp_metrics.hpp).
#include "metrics/aamp_metrics.hpp"

#include <utility>

namespace aamp::metrics {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

template <class E, std::size_t N>
constexpr std::size_t index_of(const NameTable<E, N>& table, E value) noexcept {
  for (std::size_t i = 0; i < N; ++i)
    if (table[i].value == value) return i;
  return 0;  // unreachable: names_test keeps every table complete
}

std::size_t intent_index(std::string_view intent) noexcept {
  if (intent.empty()) return kIntentNames.size();
  if (const auto i = parse_intent(intent)) return static_cast<std::size_t>(*i);
  return kIntentNames.size() + 1;
}

std::string_view intent_label(std::size_t i) noexcept {
  if (i < kIntentNames.size()) return kIntentNames[i];
  return i == kIntentNames.size() ? kNoIntent : kOtherIntent;
}

constexpr std::array<AuditVerdict, 3> kReplyVerdicts{AuditVerdict::reply_sent, AuditVerdict::reply_deferred,
                                                     AuditVerdict::reply_abandoned};

Sample sample(std::vector<Label> labels, double value, std::string suffix = {}) {
  return Sample{std::move(suffix), std::move(labels), value};
}

}  // namespace

AampMetrics::AampMetrics(std::string version) : version_(std::move(version)) {}

void AampMetrics::decision(const Decision& d, EnforcementMode mode, std::chrono::nanoseconds latency) noexcept {
  const std::size_t v = index_of(kAuditVerdictNames, d.verdict);
  const std::size_t m = index_of(kEnforcementModeNames, mode);
  decisions_[(v * kIntents + intent_index(d.intent)) * kModes + m].fetch_add(1, kRelaxed);

  if (d.store_error) store_errors_[index_of(kStoreErrorKindNames, *d.store_error)].fetch_add(1, kRelaxed);
  const bool failed = d.verdict == AuditVerdict::store_error || d.verdict == AuditVerdict::internal_error;
  if (d.verdict == AuditVerdict::too_large && d.action != Action::accept) {
    refusals_[index_of(kRefusalClassNames, RefusalClass::bad_message)].fetch_add(1, kRelaxed);
  } else if (!failed) {  // a failure applies none of what was judged before it
    for (const auto& r : d.recipients)
      if (r.refusal) refusals_[index_of(kRefusalClassNames, *r.refusal)].fetch_add(1, kRelaxed);
  }

  const auto ns = latency.count() < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(latency.count());
  const double seconds = static_cast<double>(ns) / 1e9;
  std::size_t b = 0;
  while (b < kLatencyBuckets.size() && seconds > kLatencyBuckets[b]) ++b;
  latency_buckets_[b].fetch_add(1, kRelaxed);
  latency_sum_ns_.fetch_add(ns, kRelaxed);
}

void AampMetrics::reply_attempt(AuditVerdict verdict) noexcept {
  for (std::size_t i = 0; i < kReplyVerdicts.size(); ++i)
    if (kReplyVerdicts[i] == verdict) replies_[i].fetch_add(1, kRelaxed);
}

void AampMetrics::store_error(StoreErrorKind kind) noexcept {
  store_errors_[index_of(kStoreErrorKindNames, kind)].fetch_add(1, kRelaxed);
}

void AampMetrics::outbox(std::int64_t depth, std::int64_t oldest_age_seconds) noexcept {
  outbox_depth_.store(depth, kRelaxed);
  outbox_oldest_age_.store(oldest_age_seconds < 0 ? 0 : oldest_age_seconds, kRelaxed);
}

std::vector<Family> AampMetrics::collect() const {
  std::vector<Family> out;
  auto family = [&out](std::string_view name, std::string help, Type type) -> Family& {
    out.push_back(Family{std::string(name), std::move(help), type, {}});
    return out.back();
  };

  // Only the combinations seen so far: 23 verdicts x 12 intents x 2 modes would be 552
  // series, almost all of them impossible (a pair verdict with a task intent).
  Family& dec = family(kDecisions, "Messages decided, by overall verdict, intent and the configured Mode.", Type::counter);
  for (std::size_t v = 0; v < kVerdicts; ++v)
    for (std::size_t i = 0; i < kIntents; ++i)
      for (std::size_t m = 0; m < kModes; ++m) {
        const auto n = decisions_[(v * kIntents + i) * kModes + m].load(kRelaxed);
        if (n == 0) continue;
        dec.samples.push_back(sample({{"verdict", std::string(kAuditVerdictNames[v].name)},
                                      {"intent", std::string(intent_label(i))},
                                      {"mode", std::string(kEnforcementModeNames[m].name)}},
                                     static_cast<double>(n)));
      }

  Family& ref = family(kRefusals, "Recipients refused (not in report mode), by refusal class (On-BadMessage, On-PolicyDeny).",
                       Type::counter);
  for (std::size_t c = 0; c < kRefusalClassNames.size(); ++c)
    ref.samples.push_back(sample({{"class", std::string(kRefusalClassNames[c].name)}},
                                 static_cast<double>(refusals_[c].load(kRelaxed))));

  Family& se = family(kStoreErrors, "Policy store failures, by kind.", Type::counter);
  for (std::size_t k = 0; k < kStoreErrorKindNames.size(); ++k)
    se.samples.push_back(sample({{"kind", std::string(kStoreErrorKindNames[k].name)}},
                                static_cast<double>(store_errors_[k].load(kRelaxed))));

  // One snapshot of the buckets: _count is the +Inf bucket, so the two always agree.
  Family& lat = family(kDecisionDuration, "Time decide() took for one message, seconds.", Type::histogram);
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b <= kLatencyBuckets.size(); ++b) {
    cumulative += latency_buckets_[b].load(kRelaxed);
    const std::string le = b < kLatencyBuckets.size() ? format_value(kLatencyBuckets[b]) : "+Inf";
    lat.samples.push_back(sample({{"le", le}}, static_cast<double>(cumulative), "_bucket"));
  }
  lat.samples.push_back(sample({}, static_cast<double>(latency_sum_ns_.load(kRelaxed)) / 1e9, "_sum"));
  lat.samples.push_back(sample({}, static_cast<double>(cumulative), "_count"));

  family(kOutboxDepth, "pair.respond replies in the outbox, neither sent nor abandoned.", Type::gauge)
      .samples.push_back(sample({}, static_cast<double>(outbox_depth_.load(kRelaxed))));
  family(kOutboxOldestAge, "Age of the oldest unsent reply in the outbox, seconds (0 when empty).", Type::gauge)
      .samples.push_back(sample({}, static_cast<double>(outbox_oldest_age_.load(kRelaxed))));

  Family& rs = family(kReplySends, "Reply send attempts of the outbox worker, by result (the audit verdict).", Type::counter);
  for (std::size_t i = 0; i < kReplyVerdicts.size(); ++i)
    rs.samples.push_back(sample({{"result", std::string(to_string(kReplyVerdicts[i]))}},
                                static_cast<double>(replies_[i].load(kRelaxed))));

  family(kMtaConnections, "MTA connections open now.", Type::gauge)
      .samples.push_back(sample({}, static_cast<double>(connections_.load(kRelaxed))));
  family(kConfigGeneration, "The configuration in force: 1 at start, +1 per successful reload.", Type::gauge)
      .samples.push_back(sample({}, static_cast<double>(generation_.load(kRelaxed))));
  family(kBuildInfo, "Always 1; the version label names the running build.", Type::gauge)
      .samples.push_back(sample({{"version", version_}}, 1));
  return out;
}

}  // namespace aamp::metrics
