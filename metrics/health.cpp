// health.cpp — /healthz's verdict (health.hpp).
#include "metrics/health.hpp"

namespace aamp::metrics {

HealthReport assess(const HealthFacts& f) {
  HealthReport r;
  bool ok = true;
  auto line = [&](const char* name, bool good, const std::string& detail) {
    ok = ok && good;
    r.body += name;
    r.body += good ? ": ok" : ": fail";
    if (!detail.empty()) r.body += " (" + detail + ")";
    r.body += '\n';
  };
  line("store", f.store_ok, f.store_ok ? std::string() : f.store_detail);
  const bool fresh = f.heartbeat_age >= 0 && f.heartbeat_age <= f.heartbeat_limit;
  std::string worker;
  if (!f.worker_running) worker = "not running";
  else worker = "last pass " + std::to_string(f.heartbeat_age) + " s ago, limit " + std::to_string(f.heartbeat_limit) + " s";
  line("outbox-worker", f.worker_running && fresh, worker);
  line("config", f.config_loaded,
       f.config_loaded ? "generation " + std::to_string(f.config_generation) : std::string("none loaded"));
  r.status = ok ? 200 : 503;
  return r;
}

}  // namespace aamp::metrics
