// daemon_pruner.cpp — see daemon_pruner.hpp.
#include "milter/daemon_pruner.hpp"

#include <algorithm>

#include "milter/log.hpp"
#include "policy/text_safety.hpp"
#include "store/database_name.hpp"
#include "store/sql.hpp"

namespace aamp::milter {

namespace {

constexpr std::chrono::seconds kMaxInterval{3600};

}  // namespace

std::chrono::seconds prune_interval(std::int64_t retention_s) noexcept {
  return std::chrono::seconds(std::clamp<std::int64_t>(retention_s, 1, kMaxInterval.count()));
}

void Pruner::start() {
  if (thread_.joinable()) return;
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void Pruner::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
  thread_ = std::jthread();
}

void Pruner::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

std::optional<store::PruneCounts> Pruner::prune_once() {
  const auto cfg = config_();
  if (!cfg || cfg->audit_retention_s <= 0 || cfg->database.empty()) return std::nullopt;
  store::ConnectionOptions options;
  options.busy_timeout = std::chrono::milliseconds(cfg->busy_timeout_ms);
  const auto conn = store::open_connection(cfg->database, options);
  const UnixTime before = clock_.now() - cfg->audit_retention_s;
  const auto counts = store::prune_before(*conn, before);
  if (counts.audit > 0 || counts.outbox > 0)
    logf(Severity::info, "pruned {} audit rows and {} sent or abandoned outbox rows older than AuditRetention ({} s)",
         counts.audit, counts.outbox, cfg->audit_retention_s);
  return counts;
}

store::RegistryPruneCounts Pruner::prune_registry_once() {
  const auto cfg = config_();
  if (!cfg || cfg->database.empty()) return {};
  store::ConnectionOptions options;
  options.busy_timeout = std::chrono::milliseconds(cfg->busy_timeout_ms);
  const auto conn = store::open_connection(cfg->database, options);
  const auto counts = store::prune_registry(*conn, clock_.now());
  if (counts.threads > 0 || counts.deliveries > 0)
    logf(Severity::info, "pruned {} thread registry entries and {} delivered Message-IDs past ThreadRetention",
         counts.threads, counts.deliveries);
  return counts;
}

void Pruner::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    std::chrono::seconds pause = kMaxInterval;
    try {
      const auto cfg = config_();
      if (cfg && cfg->audit_retention_s > 0) pause = prune_interval(cfg->audit_retention_s);
      prune_once();
    } catch (const std::exception& e) {
      logf(Severity::warning, "AuditRetention: pruning failed, trying again in {} s: {}", pause.count(),
           for_log_line(e.what()));
    }
    try {
      prune_registry_once();
    } catch (const std::exception& e) {
      logf(Severity::warning, "ThreadRetention: pruning failed, trying again in {} s: {}", pause.count(),
           for_log_line(e.what()));
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, stop, pause, [this] { return woken_; });
    woken_ = false;
  }
}

}  // namespace aamp::milter
