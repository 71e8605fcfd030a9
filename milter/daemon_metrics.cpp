// daemon_metrics.cpp — /metrics and /healthz of the daemon (daemon_metrics.hpp).
#include "milter/daemon_metrics.hpp"

#include <exception>

#include "policy/text_safety.hpp"

namespace aamp::milter {

std::string scrape_metrics(metrics::AampMetrics& m, Outbox& outbox, const Clock& clock) {
  try {
    const OutboxBacklog b = outbox.backlog();
    m.outbox(b.depth, b.depth == 0 ? 0 : clock.now() - b.oldest_created_at);
  } catch (const StoreError& e) {
    m.store_error(e.kind());
  }
  return m.exposition();
}

std::int64_t heartbeat_limit(std::chrono::milliseconds poll_interval) noexcept {
  return 3 * std::chrono::duration_cast<std::chrono::seconds>(poll_interval).count() + 300;
}

metrics::HealthReport check_health(Outbox& outbox, const Clock& clock, const WorkerBeat& worker, bool config_loaded,
                                   std::int64_t config_generation) {
  metrics::HealthFacts f;
  try {
    (void)outbox.backlog();
    f.store_ok = true;
  } catch (const std::exception& e) {
    f.store_detail = for_log_line(e.what(), 200);
  }
  const UnixTime now = clock.now();
  f.worker_running = worker.running && worker.heartbeat != 0;
  f.heartbeat_age = now - worker.heartbeat;
  f.heartbeat_limit = heartbeat_limit(worker.poll_interval);
  f.config_loaded = config_loaded;
  f.config_generation = config_generation;
  return metrics::assess(f);
}

}  // namespace aamp::milter
