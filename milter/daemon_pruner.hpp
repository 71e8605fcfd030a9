// daemon_pruner.hpp — AuditRetention and ThreadRetention as the daemon applies them: a thread
// that removes audit rows, and sent or abandoned outbox rows, older than AuditRetention
// (store::prune_before, in short batches), and the thread registry's expired entries and
// delivered Message-IDs (store::prune_registry), at start and then every hour (every
// AuditRetention when that is shorter), logging a line with the counts when it removed anything. It reads the
// configuration each time, so a reload that changes AuditRetention holds from the next
// pass (wake() starts one at once). On a PostgreSQL database several hosts prune at once
// harmlessly: each row goes once. No libmilter.
// Threading: start/stop/destruction from one controlling thread; wake() from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "milter/config.hpp"
#include "policy/clock.hpp"
#include "store/admin.hpp"

namespace aamp::milter {

// The pause between two passes for AuditRetention `retention_s` (> 0): an hour, or the
// retention itself when shorter, at least one second.
std::chrono::seconds prune_interval(std::int64_t retention_s) noexcept;

class Pruner {
 public:
  using ConfigSource = std::function<std::shared_ptr<const Config>()>;
  Pruner(ConfigSource config, const Clock& clock) : config_(std::move(config)), clock_(clock) {}
  ~Pruner() { stop(); }
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;

  // Starts the thread: a pass at once, then one per prune_interval().
  void start();
  // Stops and joins; a batch in progress finishes first (it is short). Idempotent.
  void stop();
  // A pass now (after a reload). Never blocks; harmless when not running.
  void wake();

  // One pass with the current configuration, on a connection of its own: what was removed,
  // or nullopt when AuditRetention is off. Throws StoreError. Logs the counts when any.
  std::optional<store::PruneCounts> prune_once();
  // The thread registry's expired entries and delivered Message-IDs removed (ThreadRetention),
  // on a connection of its own; every pass does it. Throws StoreError. Logs the counts when any.
  store::RegistryPruneCounts prune_registry_once();

 private:
  void run(const std::stop_token& stop);

  const ConfigSource config_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable_any wake_;
  bool woken_ = false;
  std::jthread thread_;
};

}  // namespace aamp::milter
