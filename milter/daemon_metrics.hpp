// daemon_metrics.hpp — what the daemon's MetricsListen endpoint answers: the /metrics text
// (the counters of metrics/aamp_metrics.hpp, with the outbox gauges read from the store at
// scrape time) and the /healthz verdict (metrics/health.hpp) from the store, the reply
// worker's heartbeat and the configuration. No libmilter, no HTTP.
// Threading: any thread; the Outbox must be thread-safe (the daemon's CurrentStore is).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "metrics/aamp_metrics.hpp"
#include "metrics/health.hpp"
#include "policy/clock.hpp"
#include "policy/store.hpp"

namespace aamp::milter {

// The exposition after one aggregate outbox query (OutboxBacklog); a store that fails it
// is counted in aamp_store_errors_total and leaves the outbox gauges as they were.
std::string scrape_metrics(metrics::AampMetrics& m, Outbox& outbox, const Clock& clock);

// The reply worker as /healthz sees it.
struct WorkerBeat {
  bool running = false;
  UnixTime heartbeat = 0;  // OutboxWorker::heartbeat()
  std::chrono::milliseconds poll_interval{15000};
};

// How long a worker may go without waking before it counts as stuck: three poll intervals
// plus five minutes for the sends of one pass (a transport timeout each).
std::int64_t heartbeat_limit(std::chrono::milliseconds poll_interval) noexcept;

// store: the backlog query answers (SQLite: bounded by BusyTimeout); outbox-worker: running
// with a heartbeat within heartbeat_limit; config: one is loaded (its generation).
metrics::HealthReport check_health(Outbox& outbox, const Clock& clock, const WorkerBeat& worker, bool config_loaded,
                                   std::int64_t config_generation);

}  // namespace aamp::milter
