// stats.hpp — what a load run measured: outcomes per message kind, latency samples, errors;
// percentiles by nearest rank. Each worker thread fills its own RunStats; merge() joins them
// after the threads have ended. Also reads a target process's CPU time and memory from /proc.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/loadgen/mix.hpp"
#include "bench/loadgen/mta_session.hpp"

namespace aamp::loadgen {

// "accept", "accept +hdr", "reject 550 5.7.1", "tempfail 451 4.3.0", "discard", ...
std::string outcome_label(const MessageOutcome& o);

struct KindStats {
  std::uint64_t count = 0;
  std::map<std::string, std::uint64_t> outcomes;
  std::vector<std::int64_t> latency_ns;
};

struct RunStats {
  std::array<KindStats, kKinds> kinds;
  std::uint64_t sessions = 0;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> error_kinds;  // "io", "timeout", "protocol", "refused"
  std::vector<std::string> first_errors;             // at most 5
  std::uint64_t codes_exhausted = 0;

  void record(Kind kind, const MessageOutcome& o);
  void record_error(const std::string& kind, const std::string& what);
  void merge(RunStats&& other);
  std::uint64_t messages() const;
};

struct Percentiles {
  std::size_t samples = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
};
// Nearest rank: the smallest sample with at least q of all samples at or below it. Sorts.
Percentiles percentiles(std::vector<std::int64_t>& ns);

// A process as /proc shows it: CPU time of all its threads, resident memory, thread count.
struct ProcessSample {
  double cpu_s = 0;
  long rss_kb = 0;
  long hwm_kb = 0;  // peak resident set (VmHWM)
  long threads = 0;
};
std::optional<ProcessSample> sample_process(int pid);

}  // namespace aamp::loadgen
