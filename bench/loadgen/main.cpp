// milter_loadgen — drives a milter the way Postfix does (mta_session.hpp), from N concurrent
// connections carrying M messages each, until a message count or a hard deadline is reached;
// reports messages/s, latency percentiles (MAIL sent -> final reply), outcomes per message
// kind and errors, as text and as JSON for bench/run. With --hold it instead keeps N
// connections open mid-message and samples the milter's memory. Threads: one per connection;
// each owns its session, factory and stats, merged after join. Loopback use only.
#include <getopt.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <latch>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/mix.hpp"
#include "bench/loadgen/mta_session.hpp"
#include "bench/loadgen/stats.hpp"
#include "bench/loadgen/transport.hpp"

namespace lg = aamp::loadgen;
using lg::Clock;
using nlohmann::json;

namespace {

constexpr char kDefaultMix[] = "plain=60,allowed=20,denied=10,invalid=5,pair_valid=2,pair_wrong=3";

struct Options {
  std::string socket;
  int connections = 10;
  int per_connection = 1;
  std::uint64_t messages = 1000;
  double duration_s = 60;
  std::string mix = kDefaultMix;
  bool mix_given = false;
  std::string codes_file;
  std::size_t body_size = 2048;
  std::uint64_t seed = 1;
  bool nodelay = false;
  double io_timeout_s = 10;
  double wait_s = 0;
  int pid = 0;
  int hold = 0;
  std::string json_path;
  bool trace = false;
  bool quiet = false;
};

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: milter_loadgen -s SOCKET [options]\n"
               "  -s, --socket SPEC        inet:PORT@HOST | inet6:PORT@HOST | unix:/path\n"
               "  -c, --connections N      concurrent milter connections (10)\n"
               "  -m, --per-connection M   messages per milter connection (1: Postfix, one SMTP session each)\n"
               "  -n, --messages N         stop after N messages (1000)\n"
               "  -d, --duration S         and after S seconds at most (60); in-flight waits end by S+io-timeout\n"
               "      --mix SPEC           weights (%s; without --codes, pair_valid=0)\n"
               "      --codes FILE         live pair codes, 'MAILBOX_INDEX CODE' per line (for pair_valid)\n"
               "      --body-size BYTES    body length (2048)\n"
               "      --seed N             message stream seed (1)\n"
               "      --nodelay            TCP_NODELAY on the client socket (Postfix leaves Nagle on)\n"
               "      --io-timeout S       per read/write wait (10)\n"
               "      --wait S             first wait up to S seconds for the socket to accept\n"
               "      --pid PID            sample this process (the milter): CPU per message, memory\n"
               "      --hold N             memory mode: hold N connections open mid-message, sample --pid\n"
               "      --json FILE|-        write the report as JSON\n"
               "      --trace              print packets to stderr\n"
               "  -q, --quiet              no text report\n",
               kDefaultMix);
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options o;
  enum { kMix = 1000, kCodes, kBody, kSeed, kNodelay, kIoTimeout, kWait, kPid, kHold, kJson, kTrace };
  const option longopts[] = {{"socket", required_argument, nullptr, 's'},
                             {"connections", required_argument, nullptr, 'c'},
                             {"per-connection", required_argument, nullptr, 'm'},
                             {"messages", required_argument, nullptr, 'n'},
                             {"duration", required_argument, nullptr, 'd'},
                             {"mix", required_argument, nullptr, kMix},
                             {"codes", required_argument, nullptr, kCodes},
                             {"body-size", required_argument, nullptr, kBody},
                             {"seed", required_argument, nullptr, kSeed},
                             {"nodelay", no_argument, nullptr, kNodelay},
                             {"io-timeout", required_argument, nullptr, kIoTimeout},
                             {"wait", required_argument, nullptr, kWait},
                             {"pid", required_argument, nullptr, kPid},
                             {"hold", required_argument, nullptr, kHold},
                             {"json", required_argument, nullptr, kJson},
                             {"trace", no_argument, nullptr, kTrace},
                             {"quiet", no_argument, nullptr, 'q'},
                             {"help", no_argument, nullptr, 'h'},
                             {nullptr, 0, nullptr, 0}};
  try {
    for (int c; (c = getopt_long(argc, argv, "s:c:m:n:d:qh", longopts, nullptr)) != -1;) {
      switch (c) {
        case 's': o.socket = optarg; break;
        case 'c': o.connections = std::stoi(optarg); break;
        case 'm': o.per_connection = std::stoi(optarg); break;
        case 'n': o.messages = std::stoull(optarg); break;
        case 'd': o.duration_s = std::stod(optarg); break;
        case kMix: o.mix = optarg; o.mix_given = true; break;
        case kCodes: o.codes_file = optarg; break;
        case kBody: o.body_size = std::stoull(optarg); break;
        case kSeed: o.seed = std::stoull(optarg); break;
        case kNodelay: o.nodelay = true; break;
        case kIoTimeout: o.io_timeout_s = std::stod(optarg); break;
        case kWait: o.wait_s = std::stod(optarg); break;
        case kPid: o.pid = std::stoi(optarg); break;
        case kHold: o.hold = std::stoi(optarg); break;
        case kJson: o.json_path = optarg; break;
        case kTrace: o.trace = true; break;
        case 'q': o.quiet = true; break;
        case 'h': usage(stdout); std::exit(0);
        default: return std::nullopt;
      }
    }
  } catch (const std::exception&) {
    std::fprintf(stderr, "milter_loadgen: bad number in the options\n");
    return std::nullopt;
  }
  // Bounds: everything this tool does is bounded in count and time.
  if (o.socket.empty() || optind != argc || o.connections < 1 || o.connections > 2000 || o.per_connection < 1 ||
      o.messages < 1 || o.messages > 100'000'000 || o.duration_s <= 0 || o.duration_s > 3600 || o.io_timeout_s <= 0 ||
      o.io_timeout_s > 300 || o.wait_s < 0 || o.wait_s > 300 || o.hold < 0 || o.hold > 2000 || o.body_size > (1u << 24))
    return std::nullopt;
  return o;
}

std::chrono::milliseconds millis(double s) { return std::chrono::milliseconds(static_cast<long long>(s * 1000)); }

// Waits until the milter accepts a connection (it may still be starting), within `wait`.
bool wait_for_socket(const lg::Endpoint& ep, double wait_s) {
  const auto until = Clock::now() + millis(wait_s);
  lg::ConnectionOptions co;
  co.io_timeout = std::chrono::milliseconds(1000);
  for (;;) {
    try {
      lg::Connection probe(ep, co, Clock::now() + std::chrono::seconds(2));
      return true;
    } catch (const lg::SessionError&) {
      if (Clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

std::string kind_name(lg::SessionError::Kind k) {
  switch (k) {
    case lg::SessionError::Kind::io: return "io";
    case lg::SessionError::Kind::timeout: return "timeout";
    case lg::SessionError::Kind::protocol: return "protocol";
  }
  return "?";
}

struct Shared {
  const Options* opts = nullptr;
  lg::Endpoint endpoint;
  lg::SessionOptions session;
  lg::Mix mix;
  lg::CodePool* codes = nullptr;
  Clock::time_point deadline;       // no new message starts after this
  Clock::time_point hard_deadline;  // no wait lasts beyond this
  std::atomic<std::uint64_t> next_serial{0};
  std::atomic<bool> deadline_hit{false};
  std::mutex negotiated_mu;
  std::optional<lg::OptnegReply> negotiated;
};

// Takes the next message ticket; false when the count or the deadline says stop.
bool take_ticket(Shared& sh, std::uint64_t* serial) {
  if (Clock::now() >= sh.deadline) {
    sh.deadline_hit = true;
    return false;
  }
  *serial = sh.next_serial.fetch_add(1, std::memory_order_relaxed);
  return *serial < sh.opts->messages;
}

void note_negotiated(Shared& sh, const lg::OptnegReply& r) {
  std::lock_guard lock(sh.negotiated_mu);
  if (!sh.negotiated) sh.negotiated = r;
}

void run_worker(Shared& sh, int id, lg::RunStats& st) {
  lg::MessageFactory factory(sh.mix, sh.codes, sh.opts->body_size, sh.opts->seed * 1000003u + static_cast<unsigned>(id));
  std::uint64_t serial = 0;
  while (take_ticket(sh, &serial)) {
    try {
      lg::MtaSession session(sh.endpoint, sh.session, sh.hard_deadline);
      ++st.sessions;
      note_negotiated(sh, session.negotiate());
      lg::Generated g = factory.next(serial);
      if (!session.open(g.client)) {
        st.record_error("refused", "the filter ended the connection at CONNECT/HELO");
        session.quit();
        continue;
      }
      for (int k = 0;;) {
        const lg::MessageOutcome o = session.send_message(g.message, g.queue_id);
        st.record(g.kind, o);
        if (o.verdict == lg::Verdict::shutdown || ++k >= sh.opts->per_connection || !take_ticket(sh, &serial)) break;
        const lg::ClientInfo client = g.client;  // same SMTP session, same client
        g = factory.next(serial);
        g.client = client;
      }
      session.quit();
    } catch (const lg::SessionError& e) {
      st.record_error(kind_name(e.kind()), e.what());
    }
  }
  st.codes_exhausted = factory.codes_exhausted();
}

// Memory mode: N connections each hold a transaction open after the body; the milter's
// resident set is sampled while all are open, then every message is finished.
json run_hold(Shared& sh, lg::RunStats& total) {
  const int n = sh.opts->hold;
  std::latch ready(n);
  std::latch go(1);
  std::vector<lg::RunStats> stats(static_cast<std::size_t>(n));
  std::atomic<int> held{0};
  const auto before = sh.opts->pid ? lg::sample_process(sh.opts->pid) : std::nullopt;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      lg::RunStats& st = stats[static_cast<std::size_t>(i)];
      lg::MessageFactory factory(sh.mix, sh.codes, sh.opts->body_size, sh.opts->seed * 1000003u + static_cast<unsigned>(i));
      bool arrived = false;
      try {
        lg::MtaSession session(sh.endpoint, sh.session, sh.hard_deadline);
        ++st.sessions;
        note_negotiated(sh, session.negotiate());
        lg::Generated g = factory.next(static_cast<std::uint64_t>(i));
        const bool open = session.open(g.client) && session.start_message(g.message, g.queue_id);
        if (open) ++held;
        ready.count_down();
        arrived = true;
        go.wait();
        if (open) st.record(g.kind, session.finish_message());
        session.quit();
      } catch (const lg::SessionError& e) {
        st.record_error(kind_name(e.kind()), e.what());
        if (!arrived) ready.count_down();
      }
    });
  }
  // Bounded: wait for every connection to be held, or for the deadline.
  while (!ready.try_wait() && Clock::now() < sh.deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the milter settle
  const auto during = sh.opts->pid ? lg::sample_process(sh.opts->pid) : std::nullopt;
  go.count_down();
  for (auto& t : threads) t.join();
  for (auto& st : stats) total.merge(std::move(st));
  json j = {{"connections", n}, {"held", held.load()}};
  if (before && during) {
    j["rss_kb_before"] = before->rss_kb;
    j["rss_kb_held"] = during->rss_kb;
    j["hwm_kb"] = during->hwm_kb;
    j["threads_before"] = before->threads;
    j["threads_held"] = during->threads;
    j["rss_kb_per_connection"] = held ? static_cast<double>(during->rss_kb - before->rss_kb) / held : 0.0;
  }
  return j;
}

double cpu_seconds_self() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

json percentiles_json(const lg::Percentiles& p) {
  return {{"samples", p.samples}, {"p50", p.p50_ms}, {"p90", p.p90_ms}, {"p99", p.p99_ms},
          {"p999", p.p999_ms},    {"max", p.max_ms}, {"mean", p.mean_ms}};
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse_options(argc, argv);
  if (!parsed) {
    usage(stderr);
    return 2;
  }
  const Options& opts = *parsed;
  Shared sh;
  sh.opts = &opts;
  const auto ep = lg::parse_endpoint(opts.socket);
  const auto mix = lg::parse_mix(opts.mix);
  if (!ep || !mix) {
    std::fprintf(stderr, "milter_loadgen: bad %s\n", !ep ? "--socket" : "--mix");
    return 2;
  }
  sh.endpoint = *ep;
  sh.mix = *mix;
  std::optional<lg::CodePool> pool;
  if (!opts.codes_file.empty()) {
    std::string error;
    auto codes = lg::read_codes(opts.codes_file, &error);
    if (!codes) {
      std::fprintf(stderr, "milter_loadgen: %s\n", error.c_str());
      return 2;
    }
    pool.emplace(std::move(*codes));
    sh.codes = &*pool;
  } else if (sh.mix.weights[static_cast<std::size_t>(lg::Kind::pair_valid)] > 0) {
    if (opts.mix_given) {
      std::fprintf(stderr, "milter_loadgen: pair_valid in --mix needs --codes FILE\n");
      return 2;
    }
    sh.mix.weights[static_cast<std::size_t>(lg::Kind::pair_valid)] = 0;  // default mix, no codes: no live codes to send
  }
  sh.session.connection.nodelay = opts.nodelay;
  sh.session.connection.io_timeout = millis(opts.io_timeout_s);
  sh.session.connection.trace = opts.trace;

  if (opts.wait_s > 0 && !wait_for_socket(sh.endpoint, opts.wait_s)) {
    std::fprintf(stderr, "milter_loadgen: %s does not accept connections\n", opts.socket.c_str());
    return 1;
  }

  const auto start = Clock::now();
  sh.deadline = start + millis(opts.duration_s);
  sh.hard_deadline = sh.deadline + std::min(millis(opts.io_timeout_s), std::chrono::milliseconds(5000));
  const double cpu_self_before = cpu_seconds_self();
  const auto target_before = opts.pid ? lg::sample_process(opts.pid) : std::nullopt;

  lg::RunStats total;
  json hold;
  if (opts.hold > 0) {
    hold = run_hold(sh, total);
  } else {
    std::vector<lg::RunStats> stats(static_cast<std::size_t>(opts.connections));
    std::vector<std::thread> threads;
    for (int i = 0; i < opts.connections; ++i)
      threads.emplace_back(run_worker, std::ref(sh), i, std::ref(stats[static_cast<std::size_t>(i)]));
    for (auto& t : threads) t.join();
    for (auto& st : stats) total.merge(std::move(st));
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto target_after = opts.pid ? lg::sample_process(opts.pid) : std::nullopt;
  const double cpu_self = cpu_seconds_self() - cpu_self_before;

  const std::uint64_t messages = total.messages();
  std::vector<std::int64_t> all;
  json kinds = json::object();
  for (std::size_t k = 0; k < lg::kKinds; ++k) {
    auto& ks = total.kinds[k];
    if (ks.count == 0) continue;
    all.insert(all.end(), ks.latency_ns.begin(), ks.latency_ns.end());
    json outcomes = json::object();
    for (const auto& [label, n] : ks.outcomes) outcomes[label] = n;
    kinds[std::string(lg::kKindNames[k])] = {
        {"count", ks.count}, {"latency_ms", percentiles_json(lg::percentiles(ks.latency_ns))}, {"outcomes", outcomes}};
  }
  const lg::Percentiles p = lg::percentiles(all);

  json report = {
      {"socket", opts.socket},
      {"transport", sh.endpoint.kind == lg::Endpoint::Kind::local ? "unix" : "tcp"},
      {"nodelay", opts.nodelay},
      {"connections", opts.hold > 0 ? opts.hold : opts.connections},
      {"per_connection", opts.per_connection},
      {"messages_requested", opts.messages},
      {"duration_limit_s", opts.duration_s},
      {"mix", lg::format_mix(sh.mix)},
      {"body_size", opts.body_size},
      {"seed", opts.seed},
      {"messages", messages},
      {"sessions", total.sessions},
      {"errors", total.errors},
      {"error_kinds", total.error_kinds},
      {"first_errors", total.first_errors},
      {"elapsed_s", elapsed},
      {"stopped_by", sh.deadline_hit ? "deadline" : "count"},
      {"msgs_per_s", elapsed > 0 ? static_cast<double>(messages) / elapsed : 0.0},
      {"latency_ms", percentiles_json(p)},
      {"kinds", kinds},
      {"loadgen_cpu_s", cpu_self},
      {"codes_used", pool ? pool->taken() : 0},
      {"codes_exhausted", total.codes_exhausted},
  };
  if (sh.negotiated)
    report["negotiated"] = {{"version", sh.negotiated->version},
                            {"actions", hex32(sh.negotiated->actions)},
                            {"protocol", hex32(sh.negotiated->protocol)}};
  if (target_before && target_after) {
    const double cpu = target_after->cpu_s - target_before->cpu_s;
    report["target"] = {{"pid", opts.pid},
                        {"cpu_s", cpu},
                        {"cpu_us_per_msg", messages ? cpu * 1e6 / static_cast<double>(messages) : 0.0},
                        {"rss_kb", target_after->rss_kb},
                        {"hwm_kb", target_after->hwm_kb},
                        {"threads", target_after->threads}};
  }
  if (opts.hold > 0) report["hold"] = hold;

  if (!opts.json_path.empty()) {
    if (opts.json_path == "-") {
      std::cout << report.dump(2) << "\n";
    } else {
      std::ofstream out(opts.json_path);
      out << report.dump(2) << "\n";
      if (!out) {
        std::fprintf(stderr, "milter_loadgen: cannot write %s\n", opts.json_path.c_str());
        return 2;
      }
    }
  }
  if (!opts.quiet && opts.json_path != "-") {
    std::printf("%s  %llu msgs in %.2fs = %.0f msg/s  (%llu sessions, %llu errors, stopped by %s)\n", opts.socket.c_str(),
                static_cast<unsigned long long>(messages), elapsed, elapsed > 0 ? static_cast<double>(messages) / elapsed : 0.0,
                static_cast<unsigned long long>(total.sessions), static_cast<unsigned long long>(total.errors),
                sh.deadline_hit ? "deadline" : "count");
    std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", p.p50_ms, p.p90_ms, p.p99_ms, p.p999_ms,
                p.max_ms);
    for (std::size_t k = 0; k < lg::kKinds; ++k) {
      const auto& ks = total.kinds[k];
      if (ks.count == 0) continue;
      std::printf("  %-10s %8llu:", std::string(lg::kKindNames[k]).c_str(), static_cast<unsigned long long>(ks.count));
      for (const auto& [label, n] : ks.outcomes) std::printf("  %s=%llu", label.c_str(), static_cast<unsigned long long>(n));
      std::printf("\n");
    }
    for (const auto& e : total.first_errors) std::printf("  error: %s\n", e.c_str());
    if (report.contains("hold")) std::printf("hold: %s\n", report["hold"].dump().c_str());
    if (report.contains("target")) std::printf("target: %s\n", report["target"].dump().c_str());
  }
  return total.errors == 0 ? 0 : 1;
}
