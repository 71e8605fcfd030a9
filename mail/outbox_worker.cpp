// outbox_worker.cpp — see outbox_worker.hpp. The order of one delivery is the exactly-once
// argument (docs/replies.md): build (pure) -> send (the MTA commits or nothing happens:
// sendmail dies with us) -> mark_sent at once, retried, and remembered when the store
// refuses, so a reply the MTA took is never handed to it again by this process.
#include "mail/outbox_worker.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <fmt/format.h>
#include <stdexcept>
#include <system_error>

#include "mail/reply.hpp"
#include "policy/text_safety.hpp"

namespace aamp::mail {
namespace {

constexpr int kMarkSentTries = 5;
constexpr std::chrono::milliseconds kMarkSentPause{200};

// Outbox rows are ours, but a log line must stay one line whatever a row holds.
std::string printable(std::string_view text) { return for_header_value(text, 300); }

}  // namespace

std::chrono::seconds retry_delay(int failures, const OutboxWorkerOptions& options) noexcept {
  const auto cap = std::max(options.retry_max, options.retry_initial);
  auto delay = std::max(options.retry_initial, std::chrono::seconds(1));
  for (int i = 1; i < failures && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

OutboxWorker::OutboxWorker(Outbox& outbox, ReplyTransport& transport, const Clock& clock,
                           OutboxWorkerOptions options, LogSink log, Store* audit, AttemptSink attempts)
    : outbox_(outbox),
      transport_(transport),
      clock_(clock),
      options_(std::move(options)),
      log_(std::move(log)),
      audit_(audit),
      attempts_(std::move(attempts)) {}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
  if (thread_.joinable()) throw std::logic_error("the reply worker is running already");
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void OutboxWorker::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();  // wakes the wait and cancels a send in flight
  thread_.join();
  thread_ = std::jthread();
  release_lock();  // a standby process may take over now
}

void OutboxWorker::notify() {
  {
    const std::lock_guard lock(mu_);
    notified_ = true;
  }
  wake_.notify_all();
}

bool OutboxWorker::running() const { return thread_.joinable(); }

bool OutboxWorker::hold_lock() {
  if (options_.lock_file.empty() || lock_fd_ >= 0) return true;
  const int fd = ::open(options_.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    log(LogLevel::error, fmt::format("outbox: cannot open the lock file {}: {}; not sending replies until it opens",
                                     options_.lock_file, std::generic_category().message(errno)));
    return false;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    if (!standby_logged_)
      log(LogLevel::info, fmt::format("outbox: another process holds {}; standing by to send replies if it stops",
                                      options_.lock_file));
    standby_logged_ = true;
    return false;
  }
  if (standby_logged_) log(LogLevel::info, fmt::format("outbox: took over {}; sending replies", options_.lock_file));
  standby_logged_ = false;
  lock_fd_ = fd;
  return true;
}

void OutboxWorker::release_lock() noexcept {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing the last descriptor releases the flock
  lock_fd_ = -1;
}

void OutboxWorker::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    heartbeat_.store(clock_.now(), std::memory_order_relaxed);
    try {
      if (hold_lock()) drain_once(stop);
    } catch (const std::exception& e) {
      log(LogLevel::error, fmt::format("outbox: cannot read the due replies, trying again in {} ms: {}",
                                       options_.poll_interval.count(), printable(e.what())));
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, stop, options_.poll_interval, [this] { return notified_; });
    notified_ = false;
  }
}

DrainStats OutboxWorker::drain_once(const std::stop_token& stop) {
  DrainStats stats;
  std::set<std::int64_t> seen;  // a row still due after we handled it (a failed mark) waits for the next pass
  // Sent earlier, the mark failed: record it now, whether or not the row is due (a
  // claimed row is not, until its lease ends).
  for (auto it = sent_unmarked_.begin(); it != sent_unmarked_.end();) {
    const OutboxReply reply = (it++)->second;  // mark_sent_surely erases the entry on success
    seen.insert(reply.id);
    mark_sent_surely(reply);
  }
  const int batch = std::max(1, options_.batch);
  for (;;) {
    const auto due = outbox_.due_replies(clock_.now(), batch);
    bool progress = false;
    for (const auto& reply : due) {
      if (stop.stop_requested()) {
        stats.stopped = true;
        return stats;
      }
      if (!seen.insert(reply.id).second) continue;
      progress = true;
      if (!deliver(reply, stats, stop)) {
        stats.stopped = true;
        return stats;
      }
    }
    if (static_cast<int>(due.size()) < batch || !progress) return stats;
  }
}

bool OutboxWorker::deliver(const OutboxReply& reply, DrainStats& stats, const std::stop_token& stop) {
  const std::string id = printable(reply.message_id);
  if (sent_unmarked_.contains(reply.id)) {  // taken by the MTA already: only the mark is missing
    mark_sent_surely(reply);
    return true;
  }
  const UnixTime now = clock_.now();
  if (now - reply.created_at >= options_.max_age.count()) {
    abandon_unsent(reply, fmt::format("not sent within ReplyMaxAge ({} s)", options_.max_age.count()), stats);
    return true;
  }
  auto message = build_pair_respond(reply);
  if (!message) {
    abandon_unsent(reply, "cannot build the reply: " + message.error(), stats);
    return true;
  }

  // Another worker (another process or MX host on the same database) may have taken it
  // since we read it: then it is theirs to send.
  // (With a lock_file this process is the only sender: nothing to claim, and a restart
  // after a crash sends at once.)
  if (options_.lock_file.empty() && !outbox_.claim(reply.id, now, now + options_.claim_lease.count())) return true;

  const std::string envelope_from = options_.envelope_sender == EnvelopeSender::null ? "" : reply.from;
  SendResult result;
  try {
    result = transport_.send(*message, envelope_from, reply.to, stop);
  } catch (const std::exception& e) {  // a transport must not throw; if it does, it is one failed attempt
    result = {SendStatus::temporary, printable(e.what())};
  }
  if (result.status == SendStatus::sent) {
    sent_unmarked_.emplace(reply.id, reply);
    mark_sent_surely(reply);
    log(LogLevel::info, fmt::format("{}: pair.respond {} to {} sent via {} (attempt {})", id,
                                    to_string(reply.status),
                                    printable(reply.to), transport_.describe(), reply.attempts + 1));
    audit(reply, AuditVerdict::reply_sent, transport_.describe());
    ++stats.sent;
    return true;
  }
  if (stop.stop_requested()) {  // cancelled, not failed: leave the row exactly as it was
    if (options_.lock_file.empty()) release_claim(reply);
    log(LogLevel::info, fmt::format("{}: send interrupted by shutdown; it stays pending", id));
    return false;
  }
  defer_or_abandon(reply, result.detail, result.status == SendStatus::permanent, stats);
  return true;
}

void OutboxWorker::defer_or_abandon(const OutboxReply& reply, const std::string& error, bool permanent,
                                    DrainStats& stats) {
  const std::string id = printable(reply.message_id);
  const UnixTime now = clock_.now();
  const int failures = reply.attempts + 1;
  const auto delay = retry_delay(failures, options_);
  const bool too_old = now + delay.count() - reply.created_at > options_.max_age.count();
  try {
    if (permanent || failures >= options_.max_attempts || too_old) {
      const std::string why = permanent                             ? error
                              : failures >= options_.max_attempts ? fmt::format("gave up after {} attempts: {}", failures, error)
                                                                    : fmt::format("gave up, older than ReplyMaxAge: {}", error);
      outbox_.mark_failed(reply.id, now, error);  // count the attempt, then give up
      outbox_.mark_abandoned(reply.id, now, why);
      log(LogLevel::error, fmt::format("{}: pair.respond to {} abandoned: {}", id, printable(reply.to), why));
      audit(reply, AuditVerdict::reply_abandoned, why);
      ++stats.abandoned;
    } else {
      outbox_.mark_failed(reply.id, now + delay.count(), error);
      log(LogLevel::warning, fmt::format("{}: pair.respond to {} not sent (attempt {} of {}), next try in {} s: {}",
                                         id, printable(reply.to), failures, options_.max_attempts, delay.count(),
                                         error));
      audit(reply, AuditVerdict::reply_deferred, error);
      ++stats.deferred;
    }
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("{}: cannot record the failed attempt ({}); it will be tried again: {}", id,
                                     printable(e.what()), error));
  }
}

void OutboxWorker::abandon_unsent(const OutboxReply& reply, const std::string& why, DrainStats& stats) {
  const std::string id = printable(reply.message_id);
  try {
    outbox_.mark_abandoned(reply.id, clock_.now(), why);
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("{}: cannot mark abandoned: {}", id, printable(e.what())));
    return;
  }
  log(LogLevel::error, fmt::format("{}: pair.respond to {} abandoned: {}", id, printable(reply.to), why));
  audit(reply, AuditVerdict::reply_abandoned, why);
  ++stats.abandoned;
}

void OutboxWorker::mark_sent_surely(const OutboxReply& reply) {
  for (int attempt = 1;; ++attempt) {
    try {
      outbox_.mark_sent(reply.id, clock_.now());
      sent_unmarked_.erase(reply.id);
      return;
    } catch (const std::exception& e) {
      if (attempt >= kMarkSentTries) {
        log(LogLevel::error, fmt::format("{}: sent, but the outbox cannot record it ({}); this process will not send "
                                         "it again and keeps trying to record it",
                                         printable(reply.message_id), printable(e.what())));
        return;
      }
      std::this_thread::sleep_for(kMarkSentPause * attempt);
    }
  }
}

void OutboxWorker::release_claim(const OutboxReply& reply) {
  try {
    outbox_.release(reply.id, reply.next_attempt_at);
  } catch (const std::exception& e) {  // the lease ends by itself; only later than it could
    log(LogLevel::warning, fmt::format("{}: cannot give the claim back ({}); it is sent once its lease ends",
                                       printable(reply.message_id), printable(e.what())));
  }
}

void OutboxWorker::log(LogLevel level, const std::string& line) const {
  if (!log_) return;
  try {
    log_(level, line);
  } catch (...) {  // a log sink must not take the worker down
  }
}

void OutboxWorker::audit(const OutboxReply& reply, AuditVerdict verdict, const std::string& reason) const {
  if (attempts_) attempts_(verdict);
  if (audit_ == nullptr) return;
  AuditRecord record;
  record.at = clock_.now();
  record.message_id = reply.message_id;
  record.envelope_from = options_.envelope_sender == EnvelopeSender::null ? "" : reply.from;
  record.header_from = reply.from;
  record.recipient = reply.to;
  record.intent = "pair.respond";
  record.task_id = reply.task_id;
  record.verdict = verdict;
  record.reason = reason;
  try {
    audit_->record_audit(record);
  } catch (const std::exception& e) {
    log(LogLevel::error, fmt::format("{}: cannot write the audit row: {}", printable(reply.message_id),
                                     printable(e.what())));
  }
}

}  // namespace aamp::mail
