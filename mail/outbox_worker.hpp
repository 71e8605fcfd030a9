// outbox_worker.hpp — the reply worker: a thread of aamp-milter that drains the durable
// outbox (policy/store.hpp Outbox) — due reply -> build_pair_respond -> transport.send ->
// mark_sent, or mark_failed with exponential backoff, or mark_abandoned — and sleeps until
// the next poll or until notify(). It never runs inside a milter callback and never holds
// anything a callback waits for: it talks to the thread-safe store in short calls and to
// the MTA through its own child process or connection.
// Threading: start/stop from one controlling thread (the daemon's main thread); notify from
// any thread, any time; drain_once only while the thread is not running. The Outbox,
// transport, clock (and audit store) must outlive the worker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <map>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "mail/transport.hpp"
#include "policy/clock.hpp"
#include "policy/store.hpp"

namespace aamp::mail {

enum class LogLevel {
  info,     // a reply went out
  warning,  // an attempt failed; it will be retried
  error,    // a reply was given up, or the outbox could not be read or written
};

// Where the worker's log lines go (the daemon: syslog). Lines start with the reply's
// Message-ID; called from the worker's thread; must not throw.
using LogSink = std::function<void(LogLevel, const std::string&)>;
// Told of every attempt's outcome (reply_sent, reply_deferred, reply_abandoned), from the
// worker's thread; the daemon counts them (aamp_reply_sends_total). Must not throw.
using AttemptSink = std::function<void(AuditVerdict)>;

enum class EnvelopeSender {
  null,     // MAIL FROM:<> (RFC 3834 §3.3), the default
  mailbox,  // the agent mailbox, as in From:
};

// The `Reply*` keys of docs/configuration.md.
struct OutboxWorkerOptions {
  EnvelopeSender envelope_sender = EnvelopeSender::null;  // ReplyEnvelopeSender
  std::chrono::seconds retry_initial{30};                 // ReplyRetryInitial
  std::chrono::seconds retry_max{3600};                   // ReplyRetryMax
  int max_attempts = 12;                                  // ReplyMaxAttempts
  std::chrono::seconds max_age{86400};                    // ReplyMaxAge
  std::chrono::milliseconds poll_interval{15000};         // ReplyPollInterval
  int batch = 16;                                         // replies read per outbox query
  // Without a lock_file (a database several hosts share), a reply is claimed
  // (Outbox::claim) just before it is sent, for this long: the workers of other hosts
  // leave it alone meanwhile. Longer than any send can take (the transport's timeout); a
  // worker that dies mid-send delays the reply this long.
  std::chrono::seconds claim_lease{300};
  // When set, only the process holding an exclusive flock(2) on this file drains the
  // outbox; a worker that cannot take it stands by and tries again every poll interval.
  // Several aamp-milter processes on one database then never send a reply twice, and the
  // kernel releases the lock when its holder dies: no lease to expire. The daemon uses
  // "<Database>.outbox.lock".
  std::string lock_file;
};

// Seconds to wait after the `failures`-th failed attempt (1-based): retry_initial doubled
// failures-1 times, at most retry_max. 30 s, 1 m, 2 m, 4 m, ... 1 h with the defaults.
std::chrono::seconds retry_delay(int failures, const OutboxWorkerOptions& options) noexcept;

struct DrainStats {
  int sent = 0;
  int deferred = 0;   // failed, will be retried
  int abandoned = 0;  // given up (attempts, age, permanent refusal, unbuildable)
  bool stopped = false;  // stop was requested mid-pass; the rest waits for the next start
};

class OutboxWorker {
 public:
  // `audit`, when given, gets one row per attempt (verdict reply-sent, reply-deferred,
  // reply-abandoned); a failure to write it is logged and does not change the outcome.
  OutboxWorker(Outbox& outbox, ReplyTransport& transport, const Clock& clock, OutboxWorkerOptions options,
               LogSink log = {}, Store* audit = nullptr, AttemptSink attempts = {});
  ~OutboxWorker();  // stop()
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

  // Starts the thread, which drains at once and then after every poll interval or
  // notify(). std::logic_error when already running.
  void start();
  // Asks the thread to stop, cancels a send in flight (the reply stays pending, untouched,
  // and is sent after the next start), and joins. Idempotent; prompt: it waits at most for
  // the outbox call in progress and for a child process to be killed.
  void stop();
  // Wakes the thread now (the daemon calls it after enqueueing a reply). Never blocks on
  // the outbox or the transport; harmless when not running.
  void notify();
  bool running() const;
  // The clock's time when the thread last woke to drain (or to try for the lock): the
  // daemon's /healthz calls the worker stuck when this is much older than the poll
  // interval. 0 before the first pass. Any thread.
  UnixTime heartbeat() const noexcept { return heartbeat_.load(std::memory_order_relaxed); }
  std::chrono::milliseconds poll_interval() const noexcept { return options_.poll_interval; }

  // One pass over everything due now, synchronously (what the thread does each time it
  // wakes). StoreError from due_replies propagates; failures to mark are logged.
  DrainStats drain_once(const std::stop_token& stop = {});

 private:
  void run(const std::stop_token& stop);
  // True when this worker may drain: no lock_file, or the flock is (now) ours.
  bool hold_lock();
  void release_lock() noexcept;
  // Returns false when stop interrupted the send (the reply is left as it was).
  bool deliver(const OutboxReply& reply, DrainStats& stats, const std::stop_token& stop);
  // Gives up on a reply that was never handed to the MTA (too old, cannot be built).
  void abandon_unsent(const OutboxReply& reply, const std::string& why, DrainStats& stats);
  // After a failed attempt: mark_failed with the next backoff, or give up.
  void defer_or_abandon(const OutboxReply& reply, const std::string& error, bool permanent, DrainStats& stats);
  void mark_sent_surely(const OutboxReply& reply);
  // Gives a claimed reply back unsent (shutdown interrupted the send): due as before.
  void release_claim(const OutboxReply& reply);
  void log(LogLevel level, const std::string& line) const;
  void audit(const OutboxReply& reply, AuditVerdict verdict, const std::string& reason) const;

  // Replies the MTA took but the outbox could not be told about (a store error after the
  // send): the next pass marks them instead of sending them again. Drain thread only.
  std::map<std::int64_t, OutboxReply> sent_unmarked_;

  Outbox& outbox_;
  ReplyTransport& transport_;
  const Clock& clock_;
  const OutboxWorkerOptions options_;
  const LogSink log_;
  Store* const audit_;
  const AttemptSink attempts_;
  std::atomic<UnixTime> heartbeat_{0};

  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  bool notified_ = false;
  int lock_fd_ = -1;          // the lock_file, open and flocked while this worker drains
  bool standby_logged_ = false;
  std::jthread thread_;
};

}  // namespace aamp::mail
