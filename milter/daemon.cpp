// daemon.cpp — the life of the aamp-milter process: load the configuration, detach (unless
// -f) with a pipe that carries the child's startup result back to the parent, open the
// socket, the database and the PID file, then drop privileges; run libmilter (smfi_main) on
// a thread of its own until SIGTERM; let the connections in flight finish. SIGHUP and
// SIGUSR1 reload the configuration: a new immutable snapshot replaces the old one for new
// connections; a configuration that does not parse is refused and the old one stays.
// systemd hears of each step (daemon_notify.hpp).
// Threading: HUP/USR1/TERM/INT are blocked in every thread but the main one, which takes
// them through a pipe (daemon_signals.hpp) and reloads or calls smfi_stop; libmilter's own
// signal thread never takes one (libmilter_sigwait.cpp). When libmilter stops without our
// SIGTERM (its listener failed) the daemon exits 1. Runtime calls are thread-safe.
#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "http/server.hpp"
#include "milter/daemon.hpp"
#include "milter/daemon_metrics.hpp"
#include "milter/daemon_notify.hpp"
#include "milter/daemon_pid_file.hpp"
#include "milter/daemon_privileges.hpp"
#include "milter/daemon_reload.hpp"
#include "milter/daemon_pruner.hpp"
#include "milter/daemon_replier.hpp"
#include "milter/daemon_signals.hpp"
#include "milter/daemon_startup.hpp"
#include "milter/hook_server.hpp"
#include "milter/log.hpp"
#include "milter/store_source.hpp"
#include "platform/system.hpp"
#include "store/database_name.hpp"
#include "store/sql_store.hpp"

#ifndef AAMP_VERSION
#define AAMP_VERSION "0"
#endif

namespace aamp::milter {

namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(30);

// Never creates or migrates: a schema changes only through `aampctl init` / `aampctl
// migrate`, which an operator runs (first, during a rolling upgrade: docs/multi-mx.md).
std::shared_ptr<Store> open_policy_store(const std::string& database, int busy_timeout_ms) {
  store::StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(busy_timeout_ms);
  options.cache = true;  // no database round trip for a message's policy lookups
  return std::make_shared<store::SqlStore>(database, options);
}

Result<Config> load(const Options& options, const std::string& base_dir) {
  auto config = load_config(options.config_path, base_dir);
  if (!config) return config;
  if (options.socket_override) {
    auto socket = parse_socket_spec(*options.socket_override);
    if (!socket) return Error{"-p " + *options.socket_override + ": " + socket.error()};
    config.value().socket = *socket;
  }
  return config;
}

// What -n checks beyond the syntax: the accounts exist, the reply transport parses.
// Before any thread starts (unknown_account is not thread-safe).
std::optional<std::string> check_environment(const Config& c) {
  if (auto spec = reply_transport_spec(c); !spec) return spec.error();
  if (auto problem = c.user ? unknown_account(*c.user, "UserID") : std::nullopt) return problem;
  if (auto problem = c.socket_owner ? unknown_account(*c.socket_owner, "SocketOwner") : std::nullopt) return problem;
  return std::nullopt;
}

LogSettings log_settings(const Config& c, bool foreground) {
  LogSettings s;
  s.syslog = c.syslog;
  s.facility = syslog_facility_code(c.syslog_facility).value_or(0);
  s.to_stderr = log_to_stderr(foreground, c.syslog, stderr_is_journal());
  return s;
}

class Daemon final : public Runtime {
 public:
  Daemon(Options options, std::string base_dir, Config config)
      : options_(std::move(options)), base_dir_(std::move(base_dir)),
        config_(std::make_shared<const Config>(std::move(config))),
        stores_(open_policy_store, clock_), current_store_(stores_) {}

  std::shared_ptr<const Config> config() const override {
    std::lock_guard lock(config_mutex_);
    return config_;
  }
  Services services() override { return Services{stores_, clock_, rng_, &metrics_}; }
  void reply_enqueued() noexcept override {
    std::lock_guard lock(replier_mutex_);
    if (replier_) replier_->worker->notify();
  }
  void connection_opened() noexcept override { metrics_.connection_opened(); }
  void connection_closed() noexcept override { metrics_.connection_closed(); }
  bool callback_begins() noexcept override {
    std::lock_guard lock(callbacks_mutex_);
    if (callbacks_closed_) return false;
    ++callbacks_;
    return true;
  }
  void callback_ends() noexcept override {
    std::lock_guard lock(callbacks_mutex_);
    if (--callbacks_ == 0) callbacks_done_.notify_all();
  }
  // GET /metrics and GET /healthz of MetricsListen.
  std::string metrics_text() { return scrape_metrics(metrics_, current_store_, clock_); }
  metrics::HealthReport health() {
    WorkerBeat beat;
    {
      std::lock_guard lock(replier_mutex_);
      if (replier_) {
        beat.running = replier_->worker->running();
        beat.heartbeat = replier_->worker->heartbeat();
        beat.poll_interval = replier_->worker->poll_interval();
      }
    }
    return check_health(current_store_, clock_, beat, config() != nullptr, generation_.load());
  }

  int run(StartupReport& report, SignalPipe& signals);

 private:
  void start(StartupReport& report);
  void reload();
  void reload_replier(const Config& next);
  void drain();
  void start_metrics_server(const http::ListenSpec& listen);
  mail::AttemptSink count_attempts() {
    return [this](AuditVerdict v) { metrics_.reply_attempt(v); };
  }
  std::string status_line() const;

  const Options options_;
  const std::string base_dir_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const Config> config_;
  SystemClock clock_;
  CryptoRng rng_;
  ReopeningStoreSource stores_;
  CurrentStore current_store_;  // the reply worker's view of the store
  std::mutex replier_mutex_;    // guards the pointer; notify() never blocks
  std::unique_ptr<Replier> replier_;
  std::unique_ptr<Pruner> pruner_;  // AuditRetention; made in start(), gone before the store closes
  // The callbacks under way (callback_begins/ends); drain() waits for none, then closes.
  std::mutex callbacks_mutex_;
  std::condition_variable callbacks_done_;
  int callbacks_ = 0;
  bool callbacks_closed_ = false;
  metrics::AampMetrics metrics_{AAMP_VERSION};
  std::atomic<std::int64_t> generation_{0};  // configurations loaded: 1 at start, +1 per reload
  std::unique_ptr<http::Server> metrics_server_;  // MetricsListen
  bool store_opened_ = false;  // at startup
  std::string pid_file_;
  std::unique_ptr<HookServer> hook_;  // the Stalwart MTA hook, when HookListen is set
};

void Daemon::start(StartupReport& report) {
  const auto cfg = config();
  try {
    register_filter(*this);
    open_listener(*cfg);
    // Before the privilege drop: a HookListen port below 1024 binds as root.
    if (cfg->hook.listen) hook_ = std::make_unique<HookServer>(*this, *cfg);
  } catch (const std::runtime_error& e) {
    throw StartupError(kExitFailure, e.what());
  }

  // The database: never created or migrated here (`aampctl init` / `migrate` do). One that
  // cannot be opened now does not stop the daemon: AAMP mail tempfails (On-StoreError)
  // while everything else flows, and the store is opened again as soon as it can be.
  const std::string database = store::display_database(cfg->database);
  const bool file = store::dialect_of(cfg->database) == store::Dialect::sqlite;
  stores_.configure(cfg->database, cfg->busy_timeout_ms);
  try {
    stores_.open_now();
    store_opened_ = true;
  } catch (const StoreError& e) {
    logf(Severity::error, "database {} unavailable: {}: AAMP mail gets On-StoreError ({}) until it opens", database,
         e.what(), to_string(cfg->policy.on.store_error));
  }

  try {
    replier_ = std::make_unique<Replier>(current_store_, current_store_, clock_, *cfg, count_attempts());
  } catch (const StartupError&) {
    throw;
  } catch (const std::exception& e) {
    throw StartupError(kExitFailure, std::string("reply transport: ") + e.what());
  }

  if (!cfg->pid_file.empty()) {
    write_pid_file(cfg->pid_file);
    pid_file_ = cfg->pid_file;
  }

  if (cfg->user) {
    const Identity id = resolve_account(*cfg->user);
    drop_privileges(*cfg->user, id);
    if (file && access(cfg->database.c_str(), R_OK | W_OK) != 0 && std::filesystem::exists(cfg->database))
      logf(Severity::error, "database {} is not writable by {}: AAMP mail will tempfail until it is", database,
           cfg->user->str());
  } else if (geteuid() == 0) {
    logf(Severity::warning, "running as root: set UserID to drop privileges");
  }

  replier_->worker->start();  // after the privilege drop: sendmail runs as UserID
  metrics_.config_generation(++generation_);
  if (cfg->metrics_listen) start_metrics_server(*cfg->metrics_listen);
  pruner_ = std::make_unique<Pruner>([this] { return config(); }, clock_);
  pruner_->start();
  logf(Severity::info, "{} started: socket {}, database {}, mode {}, authserv-id {}", version_line(), cfg->socket.str(),
       database, to_string(cfg->policy.mode), cfg->policy.authserv_id);
  if (hook_) {
    logf(Severity::info, "hook endpoint: http://{}{} (auth {})", http::to_string(*cfg->hook.listen), kHookPath,
         cfg->hook.credential.masked());
  }
  report.succeeded();
}

// GET /metrics and GET /healthz, on a thread of libmicrohttpd's per request. Opened after the
// privilege drop (a port above 1023); a listener that cannot be bound stops the start-up.
void Daemon::start_metrics_server(const http::ListenSpec& listen) {
  http::Router router;
  router.add("GET", "/metrics", [this](const http::Request&) {
    return http::Response{200, std::string(metrics::kContentType), metrics_text(), {}};
  });
  router.add("GET", "/healthz", [this](const http::Request&) {
    const metrics::HealthReport h = health();
    return http::Response::text(h.status, h.body);
  });
  http::Limits limits;
  limits.max_body = 4096;  // GET only
  limits.timeout = std::chrono::seconds(10);
  limits.max_connections = 16;
  try {
    metrics_server_ = std::make_unique<http::Server>(listen, limits, std::move(router));
  } catch (const std::exception& e) {
    throw StartupError(kExitFailure, "MetricsListen " + http::to_string(listen) + ": " + e.what());
  }
  logf(Severity::info, "metrics and health on http://{}/metrics and /healthz", http::to_string(listen));
}

void Daemon::reload() {
  auto fresh = load(options_, base_dir_);
  if (!fresh) {
    logf(Severity::notice, "reload refused, keeping the running configuration: {}", fresh.error());
    return;
  }
  const auto old = config();
  Config next = std::move(fresh).value();
  // What was opened or dropped at startup cannot change without a restart.
  for (const auto& line : changes_needing_restart(*old, next)) log_line(Severity::warning, line);
  configure_log(log_settings(next, options_.foreground));
  stores_.configure(next.database, next.busy_timeout_ms);
  if (next.reply != old->reply) reload_replier(next);
  auto snapshot = std::make_shared<const Config>(std::move(next));
  {
    std::lock_guard lock(config_mutex_);
    config_ = snapshot;
  }
  metrics_.config_generation(++generation_);
  if (pruner_ && snapshot->audit_retention_s != old->audit_retention_s) pruner_->wake();
  logf(Severity::info, "configuration reloaded from {}: mode {}, database {}", snapshot->source,
       to_string(snapshot->policy.mode), store::display_database(snapshot->database));
}

// A new reply worker for changed Reply* keys; when it cannot be made (a password file the
// unprivileged daemon cannot read), the running one stays.
void Daemon::reload_replier(const Config& next) {
  std::unique_ptr<Replier> fresh;
  try {
    fresh = std::make_unique<Replier>(current_store_, current_store_, clock_, next, count_attempts());
    fresh->worker->start();
  } catch (const std::exception& e) {
    logf(Severity::warning, "reload: the reply worker keeps its settings: {}", e.what());
    return;
  }
  std::unique_ptr<Replier> old;
  {
    std::lock_guard lock(replier_mutex_);
    old = std::exchange(replier_, std::move(fresh));
  }
  old.reset();  // stops the old worker; a reply it was sending stays pending for the new one
  logf(Severity::info, "reload: reply worker restarted with ReplyTransport {}", next.reply.transport);
}

// libmilter stopped: it reads no more commands, and a connection open now gets no callback
// again (its MTA applies its milter default action when the process exits: Postfix
// tempfails the message, nothing is lost). What remains is the callbacks under way: each
// finishes its step (a decision's audit commit, its answer) before the store closes.
void Daemon::drain() {
  std::unique_lock lock(callbacks_mutex_);
  if (!callbacks_done_.wait_for(lock, kDrainTimeout, [this] { return callbacks_ == 0; }))
    logf(Severity::warning, "stopping with {} milter callback(s) still under way after {} s", callbacks_,
         kDrainTimeout.count());
  callbacks_closed_ = true;
}

std::string Daemon::status_line() const {
  const auto cfg = config();
  std::string line = "listening on " + cfg->socket.str() + ", mode " + std::string(to_string(cfg->policy.mode));
  if (!store_opened_) line += "; database unavailable at startup: AAMP mail gets On-StoreError until it opens";
  return line;
}

int Daemon::run(StartupReport& report, SignalPipe& signals) {
  start(report);
  // From here the main thread takes the four signals (a HUP sent meanwhile arrives now);
  // every thread started so far, and smfi_main's with the connection threads it starts,
  // keep them blocked (libmilter's signal thread takes none: libmilter_sigwait.cpp).
  signals.unblock_here();
  struct MilterRun {
    SignalPipe* signals;
    int rc = MI_FAILURE;
  } run{&signals};
  const pthread_t milter = signals.start_blocked_thread(
      [](void* arg) -> void* {
        auto* r = static_cast<MilterRun*>(arg);
        r->rc = smfi_main();
        r->signals->post_milter_ended();
        return nullptr;
      },
      &run);
  notify_ready(status_line());

  bool stop_requested = false;
  for (int event; (event = signals.wait()) != SignalPipe::kMilterEnded;) {
    if (event == SIGHUP || event == SIGUSR1) {
      if (stop_requested) continue;
      notify_reloading();
      try {
        reload();
      } catch (const std::exception& e) {
        logf(Severity::error, "reload failed, keeping the running configuration: {}", e.what());
      }
      notify_ready(status_line());
    } else if ((event == SIGTERM || event == SIGINT) && !stop_requested) {
      stop_requested = true;
      notify_stopping();
      logf(Severity::info, "{}: stopping", event == SIGTERM ? "SIGTERM" : "SIGINT");
      (void)smfi_stop();  // thread-safe: sets libmilter's stop flag and closes the listener
    }
  }
  (void)pthread_join(milter, nullptr);
  const int rc = run.rc;
  if (!stop_requested) notify_stopping();
  logf(Severity::info, "stopping: waiting for the milter callbacks under way");
  hook_.reset();  // answers the requests under way, takes no more
  drain();
  metrics_server_.reset();  // no handler runs afterwards
  std::unique_ptr<Replier> replier;
  {
    std::lock_guard lock(replier_mutex_);
    replier = std::move(replier_);
  }
  replier.reset();
  pruner_.reset();
  stores_.close();
  if (!pid_file_.empty()) unlink(pid_file_.c_str());  // may fail once unprivileged; harmless
  if (!stop_requested) {
    // libmilter's listener failed: exit non-zero so that systemd's Restart=on-failure
    // starts the daemon again.
    logf(Severity::error, "libmilter stopped without SIGTERM (status {}): exiting with status {} to be restarted",
         rc == MI_SUCCESS ? "success" : "failure", kExitFailure);
    return kExitFailure;
  }
  logf(Severity::info, "stopped");
  return rc == MI_SUCCESS ? kExitOk : kExitFailure;
}

}  // namespace

std::string version_line() {
  unsigned major = 0, minor = 0, patch = 0;
  smfi_version(&major, &minor, &patch);
  return std::string("aamp-milter ") + AAMP_VERSION + " (libmilter " + std::to_string(major) + "." +
         std::to_string(minor) + "." + std::to_string(patch) + ")";
}

int run_daemon(const Options& options) {
  std::error_code ec;
  const std::string base_dir = std::filesystem::current_path(ec).string();
  Options opts = options;
  if (!opts.config_path.empty() && opts.config_path.front() != '/' && !base_dir.empty())
    opts.config_path = (std::filesystem::path(base_dir) / opts.config_path).lexically_normal().string();

  auto config = load(opts, base_dir);
  if (!config) {
    (void)std::fprintf(stderr, "aamp-milter: %s\n", config.error().c_str());
    return kExitConfig;
  }
  if (auto problem = check_environment(*config)) {
    (void)std::fprintf(stderr, "aamp-milter: %s: %s\n", opts.config_path.c_str(), problem->c_str());
    return kExitConfig;
  }
  std::vector<std::string> warnings = reply_settings_warnings(*config, reply_transport_spec(*config).value());
  if (config->hook.listen && config->hook.credential.kind() == http::Credential::Kind::none)
    warnings.emplace_back("HookListen without HookAuth: any local process may call the hook endpoint");
  if (opts.check_only) {
    if (config->hook.listen)
      std::printf("aamp-milter: hook endpoint http://%s%s, auth %s\n", http::to_string(*config->hook.listen).c_str(),
                  kHookPath, config->hook.credential.masked().c_str());
    for (const auto& w : warnings) (void)std::fprintf(stderr, "aamp-milter: %s: warning: %s\n", opts.config_path.c_str(), w.c_str());
    std::printf("aamp-milter: %s: configuration OK\n", opts.config_path.c_str());
    return kExitOk;
  }

  // Before any thread exists: every thread inherits the blocked mask; only the main thread
  // unblocks the four signals, once the threads have started (daemon_signals.hpp).
  SignalPipe signals;
  try {
    signals.install();
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "aamp-milter: signals: %s\n", e.what());
    return kExitFailure;
  }
  (void)signal(SIGPIPE, SIG_IGN);  // an MTA that hangs up mid-reply must not kill us

  configure_log(log_settings(*config, opts.foreground));
  for (const auto& w : warnings) logf(Severity::warning, "{}: {}", opts.config_path, w);
  StartupReport report;
  try {
    if (!opts.foreground) report.detach();
    if (!opts.foreground && chdir("/") != 0) throw StartupError(kExitFailure, "chdir /");
    Daemon daemon(opts, base_dir, std::move(config).value());
    return daemon.run(report, signals);
  } catch (const StartupError& e) {
    logf(Severity::fatal, "{}", e.what());  // with -f this is on standard error already
    if (!opts.foreground) report.failed(e);
    return e.status;
  } catch (const std::exception& e) {
    logf(Severity::fatal, "{}", e.what());
    if (!opts.foreground) report.failed(StartupError(kExitFailure, e.what()));
    return kExitFailure;
  }
}

}  // namespace aamp::milter
