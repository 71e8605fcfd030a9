// health.hpp — what /healthz answers, from facts the daemon gathers: the store answers a
// cheap query, the reply worker's heartbeat is recent, a configuration is loaded. Pure.
// 200 when all three hold, 503 otherwise; the body has one "name: ok|fail (detail)" line
// per check, in this order: store, outbox-worker, config.
#pragma once

#include <cstdint>
#include <string>

namespace aamp::metrics {

struct HealthFacts {
  bool store_ok = false;
  std::string store_detail;       // the error when it failed (already fit for a log line)
  bool worker_running = false;    // the outbox worker's thread exists
  std::int64_t heartbeat_age = 0; // seconds since the worker last woke (its loop runs every poll interval)
  std::int64_t heartbeat_limit = 0;  // older than this: stuck
  bool config_loaded = false;
  std::int64_t config_generation = 0;
};

struct HealthReport {
  int status = 503;  // 200 or 503
  std::string body;  // text/plain, one line per check
};

HealthReport assess(const HealthFacts& facts);

}  // namespace aamp::metrics
