// outbox_worker_test.cpp — the reply worker (mail/outbox_worker.hpp) over both outboxes
// (MemoryStore and the real SqlStore): one send per reply, backoff and abandonment,
// stop mid-send, restart, store faults, audit rows; then with real transports (a sendmail
// script, smtp-sink that is down and comes back), the promise that a send in progress
// never holds up the store, and the fault test: the worker process killed with SIGKILL
// mid-send sends the reply exactly once after a restart.
#include "mail/outbox_worker.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mail/reply.hpp"
#include "mail/sendmail_transport.hpp"
#include "mail/smtp_transport.hpp"
#include "platform/system.hpp"
#include "store/admin.hpp"
#include "store/sqlite.hpp"
#include "store/sql_store.hpp"
#include "tests/support/files.hpp"
#include "tests/support/memory_store.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/smtp_sink.hpp"
#include "tests/support/temp_dir.hpp"

extern char** environ;

namespace aamp::mail {
namespace {

using namespace std::chrono_literals;

constexpr UnixTime kStart = 1'790'000'000;

class FakeClock final : public Clock {
 public:
  UnixTime now() const override { return now_.load(); }
  void set(UnixTime t) { now_.store(t); }
  void advance(UnixTime seconds) { now_.fetch_add(seconds); }

 private:
  std::atomic<UnixTime> now_{kStart};
};

struct SentMail {
  std::string message;
  std::string from;
  std::string to;
};

// Answers each send with the next scripted result (then `otherwise`), and records it. With
// `hold` set, a send waits for the stop request and reports the cancellation.
class FakeTransport final : public ReplyTransport {
 public:
  SendResult send(std::string_view message, std::string_view from, std::string_view to,
                  std::stop_token stop) override {
    {
      const std::lock_guard lock(mu_);
      attempts_.push_back({std::string(message), std::string(from), std::string(to)});
    }
    ++entered;
    if (hold) {
      for (int i = 0; i < 3000 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(10ms);
      return {SendStatus::temporary, "cancelled"};
    }
    const std::lock_guard lock(mu_);
    if (script_.empty()) return otherwise;
    SendResult next = script_.front();
    script_.pop_front();
    return next;
  }
  std::string describe() const override { return "fake"; }

  void then(SendResult result) {
    const std::lock_guard lock(mu_);
    script_.push_back(std::move(result));
  }
  std::vector<SentMail> attempts() const {
    const std::lock_guard lock(mu_);
    return attempts_;
  }

  SendResult otherwise{SendStatus::sent, ""};
  std::atomic<bool> hold{false};
  std::atomic<int> entered{0};

 private:
  mutable std::mutex mu_;
  std::deque<SendResult> script_;
  std::vector<SentMail> attempts_;
};

struct LogLines {
  void operator()(LogLevel level, const std::string& line) {
    const std::lock_guard lock(mu);
    lines.emplace_back(level, line);
  }
  std::vector<std::pair<LogLevel, std::string>> all() {
    const std::lock_guard lock(mu);
    return lines;
  }
  bool contains(std::string_view text) {
    const std::lock_guard lock(mu);
    return std::any_of(lines.begin(), lines.end(), [&](const auto& l) { return l.second.find(text) != std::string::npos; });
  }
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;
};

struct RowState {
  int attempts = 0;
  bool sent = false;
  bool abandoned = false;
  UnixTime next_attempt_at = 0;
  std::string last_error;
};

// The two outboxes behind one face: enqueue, look at a row, read the audit verdicts.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Outbox& outbox() = 0;
  virtual Store& store() = 0;
  virtual std::int64_t enqueue(const OutboxReply& reply) = 0;
  virtual RowState state(std::int64_t id) = 0;
  virtual std::vector<std::string> verdicts() = 0;  // audit rows, in order
};

class MemoryBackend final : public Backend {
 public:
  Outbox& outbox() override { return store_; }
  Store& store() override { return store_; }
  std::int64_t enqueue(const OutboxReply& reply) override { return store_.enqueue_reply(reply); }
  RowState state(std::int64_t id) override {
    for (const auto& row : store_.outbox())
      if (row.reply.id == id)
        return {row.reply.attempts, row.sent_at.has_value(), row.abandoned_at.has_value(), row.reply.next_attempt_at,
                row.reply.last_error};
    ADD_FAILURE() << "no outbox row " << id;
    return {};
  }
  std::vector<std::string> verdicts() override {
    std::vector<std::string> out;
    for (const auto& a : store_.audit()) out.emplace_back(to_string(a.verdict));
    return out;
  }
  test::MemoryStore& memory() { return store_; }

 private:
  test::MemoryStore store_;
};

class SqliteBackend final : public Backend {
 public:
  SqliteBackend()
      : path_(dir_.file("policy.db")),
        store_(path_, store::StoreOptions{.create = true, .migrate = true}),
        admin_(path_) {}
  Outbox& outbox() override { return store_; }
  Store& store() override { return store_; }
  std::int64_t enqueue(const OutboxReply& reply) override { return admin_.enqueue_reply(reply, reply.created_at); }
  RowState state(std::int64_t id) override { return sqlite_row(path_, id); }
  std::vector<std::string> verdicts() override {
    auto conn = store::SqliteConnection::open(path_, {});
    auto st = conn->prepare("SELECT verdict FROM audit ORDER BY id");
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    return out;
  }
  const std::string& path() const { return path_; }

  static RowState sqlite_row(const std::string& path, std::int64_t id) {
    auto conn = store::SqliteConnection::open(path, {});
    auto st = conn->prepare(
        "SELECT attempts, sent_at IS NOT NULL, abandoned_at IS NOT NULL, next_attempt_at, last_error FROM outbox "
        "WHERE id = ?1");
    st.bind(1, id);
    if (!st.step()) {
      ADD_FAILURE() << "no outbox row " << id;
      return {};
    }
    return {static_cast<int>(st.int64(0)), st.int64(1) != 0, st.int64(2) != 0, st.int64(3), st.text(4)};
  }

 private:
  test::TempDir dir_;
  std::string path_;
  store::SqlStore store_;
  store::PolicyAdmin admin_;
};

OutboxReply reply_for(std::string_view task, UnixTime created = kStart) {
  OutboxReply reply;
  reply.message_id = "<aamp-pair." + std::string(task) + "@example.com>";
  reply.from = "agent@example.com";
  reply.to = "requester@example.com";
  reply.task_id = std::string(task);
  reply.status = TaskStatus::rejected;
  reply.error_msg = "invalid or expired pair code";
  reply.in_reply_to = "<req-" + std::string(task) + "@requester.example.com>";
  reply.created_at = created;
  return reply;
}

OutboxWorkerOptions fast_options() {
  OutboxWorkerOptions options;
  options.poll_interval = 1h;  // only notify() wakes the thread in these tests
  return options;
}

// Waits (bounded) until `done` holds; false when it never did.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds within = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(RetryDelay, DoublesUpToTheCap) {
  const OutboxWorkerOptions defaults;
  struct Row {
    int failures;
    long want_seconds;
  };
  const Row rows[] = {{1, 30}, {2, 60}, {3, 120}, {4, 240}, {5, 480}, {6, 960}, {7, 1920}, {8, 3600}, {9, 3600}, {1000, 3600}};
  for (const auto& row : rows) {
    SCOPED_TRACE(row.failures);
    EXPECT_EQ(retry_delay(row.failures, defaults).count(), row.want_seconds);
  }
  OutboxWorkerOptions odd;
  odd.retry_initial = 0s;  // never a zero delay: a failing reply must not spin
  odd.retry_max = 5s;
  EXPECT_EQ(retry_delay(1, odd).count(), 1);
  EXPECT_EQ(retry_delay(4, odd).count(), 5);
}

class OutboxWorkerTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") backend_ = std::make_unique<MemoryBackend>();
    else backend_ = std::make_unique<SqliteBackend>();
  }
  OutboxWorker worker(OutboxWorkerOptions options = fast_options()) {
    return OutboxWorker(backend_->outbox(), transport_, clock_, options, std::ref(log_), &backend_->store());
  }
  std::unique_ptr<Backend> backend_;
  FakeTransport transport_;
  FakeClock clock_;
  LogLines log_;
};

INSTANTIATE_TEST_SUITE_P(Outboxes, OutboxWorkerTest, testing::Values("memory", "sqlite"));

TEST_P(OutboxWorkerTest, SendsEachDueReplyOnceAndMarksIt) {
  const OutboxReply reply = reply_for("t1");
  const auto id = backend_->enqueue(reply);
  const auto later = backend_->enqueue(reply_for("t2", kStart + 100));  // not due yet
  OutboxWorker w = worker();
  const DrainStats first = w.drain_once();
  EXPECT_EQ(first.sent, 1);
  const auto attempts = transport_.attempts();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].message, *build_pair_respond(reply));
  EXPECT_EQ(attempts[0].from, "");  // the null sender by default
  EXPECT_EQ(attempts[0].to, "requester@example.com");
  const RowState row = backend_->state(id);
  EXPECT_TRUE(row.sent);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_FALSE(backend_->state(later).sent);

  EXPECT_EQ(w.drain_once().sent, 0);  // sent is sent
  clock_.advance(100);
  EXPECT_EQ(w.drain_once().sent, 1);  // the later one, when due
  EXPECT_EQ(transport_.attempts().size(), 2u);
  EXPECT_EQ(backend_->verdicts(), (std::vector<std::string>{"reply-sent", "reply-sent"}));
  const auto lines = log_.all();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().first, LogLevel::info);
  EXPECT_TRUE(lines.front().second.starts_with("<aamp-pair.t1@example.com>: pair.respond rejected to "
                                               "requester@example.com sent via fake (attempt 1)"))
      << lines.front().second;
}

TEST_P(OutboxWorkerTest, EnvelopeSenderMailbox) {
  backend_->enqueue(reply_for("t1"));
  OutboxWorkerOptions options = fast_options();
  options.envelope_sender = EnvelopeSender::mailbox;
  OutboxWorker w = worker(options);
  w.drain_once();
  ASSERT_EQ(transport_.attempts().size(), 1u);
  EXPECT_EQ(transport_.attempts()[0].from, "agent@example.com");
}

TEST_P(OutboxWorkerTest, BacksOffThenAbandons) {
  const auto id = backend_->enqueue(reply_for("t1"));
  transport_.otherwise = {SendStatus::temporary, "sendmail failed, exit status 75 (EX_TEMPFAIL): queue full"};
  OutboxWorkerOptions options = fast_options();
  options.max_attempts = 4;
  OutboxWorker w = worker(options);
  const long want_delays[] = {30, 60, 120};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE(attempt);
    EXPECT_EQ(w.drain_once().deferred, 1);
    const RowState row = backend_->state(id);
    EXPECT_EQ(row.attempts, attempt);
    EXPECT_FALSE(row.sent || row.abandoned);
    EXPECT_EQ(row.next_attempt_at, clock_.now() + want_delays[attempt - 1]);
    EXPECT_EQ(row.last_error, "sendmail failed, exit status 75 (EX_TEMPFAIL): queue full");
    clock_.advance(want_delays[attempt - 1] - 1);
    EXPECT_EQ(w.drain_once().deferred, 0);  // not due a second early
    clock_.advance(1);
  }
  EXPECT_EQ(w.drain_once().abandoned, 1);
  const RowState row = backend_->state(id);
  EXPECT_EQ(row.attempts, 4);
  EXPECT_TRUE(row.abandoned);
  EXPECT_NE(row.last_error.find("gave up after 4 attempts: sendmail failed"), std::string::npos) << row.last_error;
  EXPECT_EQ(transport_.attempts().size(), 4u);
  clock_.advance(100000);
  w.drain_once();
  EXPECT_EQ(transport_.attempts().size(), 4u);
  EXPECT_EQ(backend_->verdicts(),
            (std::vector<std::string>{"reply-deferred", "reply-deferred", "reply-deferred", "reply-abandoned"}));
  int warnings = 0;
  for (const auto& [level, line] : log_.all()) warnings += level == LogLevel::warning;
  EXPECT_EQ(warnings, 3);
}

TEST_P(OutboxWorkerTest, MaxAgeStopsTheRetries) {
  const auto id = backend_->enqueue(reply_for("t1"));
  transport_.otherwise = {SendStatus::temporary, "connection refused"};
  OutboxWorkerOptions options = fast_options();
  options.max_age = 100s;
  OutboxWorker w = worker(options);
  EXPECT_EQ(w.drain_once().deferred, 1);  // next try at +30 s: within the age
  clock_.advance(30);
  EXPECT_EQ(w.drain_once().deferred, 1);  // next try at +90 s: within the age
  clock_.advance(60);
  EXPECT_EQ(w.drain_once().abandoned, 1);  // next would be at +210 s: past it
  EXPECT_TRUE(backend_->state(id).abandoned);
  EXPECT_EQ(backend_->state(id).attempts, 3);
}

TEST_P(OutboxWorkerTest, RefusedForGoodIsAbandonedAtOnce) {
  const auto id = backend_->enqueue(reply_for("t1"));
  transport_.then({SendStatus::permanent, "RCPT failed: 550 (curl error 55, last SMTP reply 550)"});
  OutboxWorker w = worker();
  EXPECT_EQ(w.drain_once().abandoned, 1);
  const RowState row = backend_->state(id);
  EXPECT_TRUE(row.abandoned);
  EXPECT_EQ(row.attempts, 1);
  EXPECT_EQ(row.last_error, "RCPT failed: 550 (curl error 55, last SMTP reply 550)");
}

TEST_P(OutboxWorkerTest, UnsendableRepliesAreAbandonedUnsent) {
  OutboxReply bad = reply_for("t1");
  bad.task_id = "t1\r\nBcc: victim@example.net";
  const auto bad_id = backend_->enqueue(bad);
  const auto old_id = backend_->enqueue(reply_for("t2", kStart - 2 * 86400));  // enqueued two days ago
  OutboxWorker w = worker();
  EXPECT_EQ(w.drain_once().abandoned, 2);
  EXPECT_TRUE(transport_.attempts().empty());
  EXPECT_TRUE(backend_->state(bad_id).abandoned);
  EXPECT_EQ(backend_->state(bad_id).attempts, 0);
  EXPECT_NE(backend_->state(bad_id).last_error.find("cannot build the reply: the task id"), std::string::npos);
  EXPECT_TRUE(backend_->state(old_id).abandoned);
  EXPECT_EQ(backend_->state(old_id).last_error, "not sent within ReplyMaxAge (86400 s)");
}

TEST_P(OutboxWorkerTest, NotifyWakesTheThread) {
  OutboxWorker w = worker();  // polls once an hour
  w.start();
  EXPECT_TRUE(w.running());
  ASSERT_TRUE(eventually([&] { return transport_.entered.load() == 0; }));
  const auto id = backend_->enqueue(reply_for("t1"));
  w.notify();
  EXPECT_TRUE(eventually([&] { return backend_->state(id).sent; }));
  w.stop();
  EXPECT_FALSE(w.running());
  EXPECT_EQ(transport_.attempts().size(), 1u);
}

TEST_P(OutboxWorkerTest, StopDuringSendLeavesTheReplyPendingAndARestartSendsItOnce) {
  const auto id = backend_->enqueue(reply_for("t1"));
  transport_.hold = true;
  {
    OutboxWorker w = worker();
    w.start();
    ASSERT_TRUE(eventually([&] { return transport_.entered.load() == 1; }));
    w.stop();  // returns once the send is cancelled and the thread joined
  }
  RowState row = backend_->state(id);
  EXPECT_FALSE(row.sent || row.abandoned);
  EXPECT_EQ(row.attempts, 0);  // a cancelled send is not a failed attempt
  EXPECT_EQ(row.last_error, "");

  transport_.hold = false;
  OutboxWorker again = worker();
  again.start();
  EXPECT_TRUE(eventually([&] { return backend_->state(id).sent; }));
  again.stop();
  again.start();  // and once more: nothing left to send
  again.notify();
  again.stop();
  EXPECT_EQ(transport_.attempts().size(), 2u);  // the cancelled one and the one that went out
  EXPECT_EQ(backend_->verdicts(), std::vector<std::string>{"reply-sent"});
}

TEST_P(OutboxWorkerTest, APendingReplyIsSentAfterRestartOnce) {
  const auto id = backend_->enqueue(reply_for("t1"));
  transport_.then({SendStatus::temporary, "connection refused"});
  {
    OutboxWorker w = worker();
    w.start();
    ASSERT_TRUE(eventually([&] { return backend_->state(id).attempts == 1; }));
  }  // the daemon stops with the reply pending
  clock_.advance(30);
  OutboxWorker restarted = worker();
  restarted.start();
  EXPECT_TRUE(eventually([&] { return backend_->state(id).sent; }));
  restarted.stop();
  OutboxWorker third = worker();
  EXPECT_EQ(third.drain_once().sent, 0);
  EXPECT_EQ(transport_.attempts().size(), 2u);
}

// Several aamp-milter processes on one database: the lock file lets one send and keeps the
// others standing by (flock locks belong to open file descriptions, so two workers in one
// process contend exactly as two processes do).
TEST_P(OutboxWorkerTest, OnlyTheLockHolderSendsAndAStandbyTakesOver) {
  test::TempDir dir;
  OutboxWorkerOptions options = fast_options();
  options.poll_interval = 20ms;
  options.lock_file = dir.file("policy.db.outbox.lock");
  FakeTransport second_transport;
  OutboxWorker first = worker(options);
  OutboxWorker second(backend_->outbox(), second_transport, clock_, options, std::ref(log_), &backend_->store());
  first.start();
  const auto warmup = backend_->enqueue(reply_for("t0"));
  first.notify();
  ASSERT_TRUE(eventually([&] { return backend_->state(warmup).sent; })) << "first holds the lock now";
  second.start();
  ASSERT_TRUE(eventually([&] { return log_.contains("standing by"); }));
  const auto a = backend_->enqueue(reply_for("t1"));
  const auto b = backend_->enqueue(reply_for("t2"));
  second.notify();
  first.notify();
  ASSERT_TRUE(eventually([&] { return backend_->state(a).sent && backend_->state(b).sent; }));
  EXPECT_EQ(transport_.attempts().size(), 3u);
  EXPECT_EQ(second_transport.attempts().size(), 0u) << "the standby must not send";

  first.stop();  // the lock is released: the standby takes over within a poll interval
  const auto c = backend_->enqueue(reply_for("t3"));
  second.notify();
  ASSERT_TRUE(eventually([&] { return backend_->state(c).sent; }));
  EXPECT_EQ(second_transport.attempts().size(), 1u);
  EXPECT_EQ(transport_.attempts().size(), 3u);
  EXPECT_TRUE(log_.contains("took over"));
  second.stop();
}

TEST_P(OutboxWorkerTest, DrainsMoreThanOneBatch) {
  // Appended, not "t" + a temporary string: GCC 12 at -O3 reports a false -Wrestrict.
  for (int i = 0; i < 7; ++i) backend_->enqueue(reply_for(std::string("t").append(std::to_string(i))));
  OutboxWorkerOptions options = fast_options();
  options.batch = 3;
  OutboxWorker w = worker(options);
  EXPECT_EQ(w.drain_once().sent, 7);
  EXPECT_EQ(transport_.attempts().size(), 7u);
}

// Store faults (MemoryStore can inject them).
class OutboxWorkerFaults : public testing::Test {
 protected:
  OutboxWorker worker() {
    return OutboxWorker(store_, transport_, clock_, fast_options(), std::ref(log_), &store_);
  }
  test::MemoryStore store_;
  FakeTransport transport_;
  FakeClock clock_;
  LogLines log_;
};

TEST_F(OutboxWorkerFaults, ASentReplyIsNeverSentAgainWhenMarkingFails) {
  store_.enqueue_reply(reply_for("t1"));
  store_.fail_next(StoreErrorKind::busy, "mark_sent", 2);  // retried within the pass
  OutboxWorker w = worker();
  EXPECT_EQ(w.drain_once().sent, 1);
  EXPECT_TRUE(store_.outbox().front().sent_at.has_value());

  store_.enqueue_reply(reply_for("t2"));
  store_.fail_next(StoreErrorKind::busy, "mark_sent", 7);  // down longer than one pass retries
  EXPECT_EQ(w.drain_once().sent, 1);
  EXPECT_FALSE(store_.outbox().back().sent_at.has_value());
  // Still due in the outbox, but this process knows the MTA has it: mark, do not resend.
  EXPECT_EQ(w.drain_once().sent, 0);
  EXPECT_EQ(transport_.attempts().size(), 2u);
  for (const auto& row : store_.outbox()) {
    SCOPED_TRACE(row.reply.task_id);
    EXPECT_TRUE(row.sent_at.has_value());
  }
  bool logged = false;
  for (const auto& [level, line] : log_.all())
    logged |= level == LogLevel::error && line.find("sent, but the outbox cannot record it") != std::string::npos;
  EXPECT_TRUE(logged);
}

TEST_F(OutboxWorkerFaults, AnUnreadableOutboxIsLoggedAndRetried) {
  store_.enqueue_reply(reply_for("t1"));
  store_.fail_always(StoreErrorKind::busy);
  OutboxWorker w = worker();
  EXPECT_THROW(w.drain_once(), StoreError);
  w.start();
  ASSERT_TRUE(eventually([&] {
    for (const auto& [level, line] : log_.all())
      if (line.starts_with("outbox: cannot read the due replies")) return true;
    return false;
  }));
  store_.fail_always(std::nullopt);
  w.notify();
  EXPECT_TRUE(eventually([&] { return store_.outbox().front().sent_at.has_value(); }));
  w.stop();
}

TEST_F(OutboxWorkerFaults, AFailedAuditDoesNotChangeTheOutcome) {
  store_.enqueue_reply(reply_for("t1"));
  store_.fail_next(StoreErrorKind::full, "record_audit", 1);
  OutboxWorker w = worker();
  EXPECT_EQ(w.drain_once().sent, 1);
  EXPECT_TRUE(store_.outbox().front().sent_at.has_value());
}

// --- with real transports ---------------------------------------------------------------

// A sendmail stand-in that commits (renames into deliveries/) only after reading all of
// its input, and sleeps first when DIR/slow exists: a kill during the sleep is a kill
// mid-send.
std::string delivering_script(const test::TempDir& dir) {
  const std::string path = dir.file("sendmail");
  const std::string d = dir.path().string();
  test::write_file(path,
                   "#!/bin/sh\n"
                   "echo $$ > " + d + "/pid.$$\n"
                   "cat > " + d + "/in.$$\n"
                   "echo \"$@\" > " + d + "/args.$$\n"
                   "touch " + d + "/read.$$\n"
                   "if [ -e " + d + "/slow ]; then sleep 2; fi\n"
                   "if [ -e " + d + "/fail ]; then echo 'postdrop: warning: queue file write error' >&2; exit 75; fi\n"
                   "mv " + d + "/in.$$ " + d + "/deliveries/$$.eml\n",
                   0755);
  ::mkdir(dir.file("deliveries").c_str(), 0755);
  return path;
}

TEST_P(OutboxWorkerTest, WithTheSendmailTransport) {
  test::TempDir dir;
  const std::string script = delivering_script(dir);
  SendmailTransport sendmail(script, {}, 10s);
  const OutboxReply reply = reply_for("t1");
  const auto id = backend_->enqueue(reply);
  test::write_file(dir.file("fail"), "");
  OutboxWorker w(backend_->outbox(), sendmail, clock_, fast_options(), std::ref(log_), &backend_->store());
  EXPECT_EQ(w.drain_once().deferred, 1);
  EXPECT_NE(backend_->state(id).last_error.find("exit status 75 (EX_TEMPFAIL): postdrop: warning: queue file write"),
            std::string::npos)
      << backend_->state(id).last_error;
  EXPECT_TRUE(test::list_files(dir.file("deliveries")).empty());

  ::unlink(dir.file("fail").c_str());
  clock_.advance(30);
  EXPECT_EQ(w.drain_once().sent, 1);
  const auto delivered = test::list_files(dir.file("deliveries"));
  ASSERT_EQ(delivered.size(), 1u);
  std::string want = *build_pair_respond(reply);
  std::erase(want, '\r');
  EXPECT_EQ(test::read_file(dir.file("deliveries/" + delivered[0])), want);
  EXPECT_TRUE(backend_->state(id).sent);
  EXPECT_EQ(backend_->verdicts(), (std::vector<std::string>{"reply-deferred", "reply-sent"}));
}

TEST_P(OutboxWorkerTest, SmtpServerDownThenBack) {
  const int port = test::free_loopback_port();
  SmtpSpec spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  SmtpTransport smtp(spec, 10s);
  const auto id = backend_->enqueue(reply_for("t1"));
  OutboxWorker w(backend_->outbox(), smtp, clock_, fast_options(), std::ref(log_), &backend_->store());
  EXPECT_EQ(w.drain_once().deferred, 1);  // nothing listening
  EXPECT_NE(backend_->state(id).last_error.find("curl error 7"), std::string::npos) << backend_->state(id).last_error;
  clock_.advance(30);
  EXPECT_EQ(w.drain_once().deferred, 1);
  EXPECT_EQ(backend_->state(id).next_attempt_at, clock_.now() + 60);

  test::SmtpSink sink({}, port);  // the server comes back
  clock_.advance(60);
  EXPECT_EQ(w.drain_once().sent, 1);
  const auto dumps = sink.dumps();
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_NE(dumps[0].find("Message-Id: <aamp-pair.t1@example.com>"), std::string::npos) << dumps[0];
  EXPECT_EQ(backend_->verdicts(), (std::vector<std::string>{"reply-deferred", "reply-deferred", "reply-sent"}));
}

// A send in progress holds no database lock: the milter's writes go on meanwhile.
TEST(OutboxWorkerSqlite, ASendInProgressNeverBlocksTheStore) {
  test::TempDir dir;
  const std::string path = dir.file("policy.db");
  store::StoreOptions options{.busy_timeout = 200ms, .create = true, .migrate = true};
  store::SqlStore store(path, options);
  store::PolicyAdmin admin(path, store::AdminOptions{.busy_timeout = 200ms});
  const std::string script = delivering_script(dir);
  test::write_file(dir.file("slow"), "");
  SendmailTransport sendmail(script, {}, 30s);
  FakeClock clock;
  admin.enqueue_reply(reply_for("t1"), kStart);
  OutboxWorker w(store, sendmail, clock, fast_options(), {}, &store);
  w.start();
  ASSERT_TRUE(eventually([&] { return !test::list_files(dir.path().string(), "read.").empty(); }));
  // The worker is inside send() now, for about two seconds.
  for (int i = 0; i < 20; ++i) {
    AuditRecord record;
    record.at = kStart;
    record.message_id = std::string("Q").append(std::to_string(i));  // not "Q" + ...: GCC 12 -O3 -Wrestrict
    record.verdict = AuditVerdict::allow;
    EXPECT_NO_THROW(store.record_audit(record));
    EXPECT_NO_THROW(admin.enqueue_reply(reply_for("other" + std::to_string(i), kStart + 3600), kStart));
  }
  EXPECT_TRUE(test::list_files(dir.file("deliveries")).empty());  // still sending
  w.stop();
}

// --- the fault test: the worker process killed with SIGKILL mid-send ----------------------

class Helper {
 public:
  Helper(const std::string& db, const std::string& sendmail, const std::string& log) {
    const std::string program = test::binary_dir() + "/tests/outbox_worker_helper";
    std::vector<std::string> words{program, db, sendmail};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int rc = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~Helper() {
    if (pid_ > 0) kill(SIGKILL);
  }
  pid_t pid() const { return pid_; }
  int kill(int signal) {
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST(OutboxWorkerFault, KilledMidSendTheReplyIsSentOnceAfterRestart) {
  test::TempDir dir;
  const std::string db = dir.file("policy.db");
  const std::string log = dir.file("helper.log");
  const std::string script = delivering_script(dir);
  SystemClock clock;
  {
    store::PolicyAdmin admin(db, store::AdminOptions{.create = true, .migrate = true});
    admin.enqueue_reply(reply_for("killed", clock.now()), clock.now());
  }
  const auto id = 1;
  const auto deliveries = [&] { return test::list_files(dir.file("deliveries")).size(); };

  // 1. The worker starts sending; sendmail has read the whole reply and is about to commit.
  test::write_file(dir.file("slow"), "");
  {
    Helper first(db, script, log);
    ASSERT_GT(first.pid(), 0);
    ASSERT_TRUE(eventually([&] { return !test::list_files(dir.path().string(), "read.").empty(); }))
        << test::read_file(log);
    // 2. kill -9 the worker process.
    const int status = first.kill(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  const auto pid_files = test::list_files(dir.path().string(), "pid.");
  ASSERT_EQ(pid_files.size(), 1u);
  const pid_t sendmail_pid = std::stoi(test::read_file(dir.file(pid_files[0])));
  EXPECT_TRUE(eventually([&] { return gone(sendmail_pid); }, 5s)) << "sendmail outlived the worker";
  std::this_thread::sleep_for(2500ms);  // past the moment it would have committed
  EXPECT_EQ(deliveries(), 0u);
  RowState row = SqliteBackend::sqlite_row(db, id);
  EXPECT_FALSE(row.sent || row.abandoned);

  // 3. Restart: the pending reply goes out, once.
  ::unlink(dir.file("slow").c_str());
  {
    Helper second(db, script, log);
    ASSERT_GT(second.pid(), 0);
    EXPECT_TRUE(eventually([&] { return SqliteBackend::sqlite_row(db, id).sent; })) << test::read_file(log);
    const int status = second.kill(SIGTERM);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::read_file(log);
  }
  EXPECT_EQ(deliveries(), 1u);
  // 4. And a third start finds nothing to send.
  store::SqlStore store(db);
  SendmailTransport sendmail(script, {}, 10s);
  OutboxWorker third(store, sendmail, clock, fast_options());
  EXPECT_EQ(third.drain_once().sent, 0);
  EXPECT_EQ(deliveries(), 1u);
  const auto delivered = test::list_files(dir.file("deliveries"));
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_NE(test::read_file(dir.file("deliveries/" + delivered[0])).find("Message-Id: <aamp-pair.killed@example.com>"),
            std::string::npos);
  row = SqliteBackend::sqlite_row(db, id);
  EXPECT_EQ(row.attempts, 1);
}

}  // namespace
}  // namespace aamp::mail
