// stats.cpp — see stats.hpp.
#include "bench/loadgen/stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

namespace aamp::loadgen {

std::string outcome_label(const MessageOutcome& o) {
  std::string s(to_string(o.verdict));
  if (!o.reply.empty()) {
    // "550 5.7.1 <text>" -> "550 5.7.1": the codes, not the sentence.
    const std::size_t first = o.reply.find_first_of(" -");
    const std::size_t second = first == std::string::npos ? std::string::npos : o.reply.find(' ', first + 1);
    // Appended, not " " + a temporary string: GCC 12 at -O3 reports a false -Wrestrict.
    s += ' ';
    s.append(o.reply, 0, second);
  }
  if (o.stage != Stage::eom) s.append(" @").append(to_string(o.stage));
  if (o.mods.add_header || o.mods.ins_header) s += " +hdr";
  if (o.mods.chg_header) s += " +chghdr";
  if (o.mods.del_rcpt || o.rcpts_refused) s += " +delrcpt";
  if (o.mods.add_rcpt) s += " +addrcpt";
  if (o.mods.chg_from) s += " +chgfrom";
  if (o.mods.repl_body) s += " +body";
  if (o.mods.quarantine) s += " +quarantine";
  return s;
}

void RunStats::record(Kind kind, const MessageOutcome& o) {
  KindStats& k = kinds[static_cast<std::size_t>(kind)];
  ++k.count;
  ++k.outcomes[outcome_label(o)];
  k.latency_ns.push_back(o.latency.count());
}

void RunStats::record_error(const std::string& kind, const std::string& what) {
  ++errors;
  ++error_kinds[kind];
  if (first_errors.size() < 5) first_errors.push_back(kind + ": " + what);
}

void RunStats::merge(RunStats&& other) {
  for (std::size_t i = 0; i < kKinds; ++i) {
    KindStats& k = kinds[i];
    k.count += other.kinds[i].count;
    for (const auto& [label, n] : other.kinds[i].outcomes) k.outcomes[label] += n;
    k.latency_ns.insert(k.latency_ns.end(), other.kinds[i].latency_ns.begin(), other.kinds[i].latency_ns.end());
  }
  sessions += other.sessions;
  errors += other.errors;
  for (const auto& [kind, n] : other.error_kinds) error_kinds[kind] += n;
  for (auto& e : other.first_errors)
    if (first_errors.size() < 5) first_errors.push_back(std::move(e));
  codes_exhausted += other.codes_exhausted;
}

std::uint64_t RunStats::messages() const {
  std::uint64_t n = 0;
  for (const auto& k : kinds) n += k.count;
  return n;
}

Percentiles percentiles(std::vector<std::int64_t>& ns) {
  Percentiles p;
  p.samples = ns.size();
  if (ns.empty()) return p;
  std::sort(ns.begin(), ns.end());
  const auto at = [&](double q) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ns.size())));
    return static_cast<double>(ns[std::clamp<std::size_t>(rank, 1, ns.size()) - 1]) / 1e6;
  };
  p.p50_ms = at(0.50);
  p.p90_ms = at(0.90);
  p.p99_ms = at(0.99);
  p.p999_ms = at(0.999);
  p.max_ms = static_cast<double>(ns.back()) / 1e6;
  p.mean_ms = std::accumulate(ns.begin(), ns.end(), 0.0) / static_cast<double>(ns.size()) / 1e6;
  return p;
}

std::optional<ProcessSample> sample_process(int pid) {
  ProcessSample s;
  {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    // The command name is in parentheses and may contain spaces: fields resume after ')'.
    const std::size_t close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    // After ')': state(3) ... utime is field 14, stime field 15 of the whole line.
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoul(field);
      if (i == 15) stime = std::stoul(field);
    }
    s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value = 0;
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream in(line);
    if (!(in >> key >> value)) continue;
    if (key == "VmRSS:") s.rss_kb = value;
    if (key == "VmHWM:") s.hwm_kb = value;
    if (key == "Threads:") s.threads = value;
  }
  return s;
}

}  // namespace aamp::loadgen
