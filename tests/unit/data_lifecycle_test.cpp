// data_lifecycle_test.cpp — the data lifecycle of store/admin.hpp (store/admin_lifecycle.cpp)
// on both engines: prune_before (old audit rows and finished replies go, pending replies
// stay, in batches, several pruners at once remove each row once), the outbox as
// `aampctl outbox` sees and changes it, and backup (a SQLite copy; refused on PostgreSQL);
// then AuditRetention (milter/config_keys.cpp) and the daemon's Pruner (milter/daemon_pruner.*)
// on a real SQLite file. PostgreSQL: a schema of a 15 cluster the test starts
// (tests/support/pg_cluster.hpp).
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "milter/config.hpp"
#include "milter/daemon_pruner.hpp"
#include "store/admin.hpp"
#include "store/sql.hpp"
#include "store/sql_store.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::store {
namespace {

constexpr UnixTime kNow = 1'800'000'000;
constexpr UnixTime kDay = 86400;

struct SqliteTarget {
  static constexpr const char* kName = "sqlite";
  static constexpr bool kSqlite = true;
  test::TempDir dir;
  std::string database() const { return dir.file("policy.db"); }
  AdminOptions options() const { return {.create = true, .migrate = true}; }
};

struct PostgresqlTarget {
  static constexpr const char* kName = "postgresql";
  static constexpr bool kSqlite = false;
  test::TempDir dir;
  PostgresqlTarget() {
    test::PgCluster::shared().superuser_sql("DROP SCHEMA IF EXISTS life CASCADE; CREATE SCHEMA life AUTHORIZATION aamp;");
  }
  std::string database() const { return test::PgCluster::shared().url() + "?options=-csearch_path%3Dlife"; }
  AdminOptions options() const { return {.migrate = true}; }
};

template <class Target>
class DataLifecycle : public ::testing::Test {
 protected:
  DataLifecycle() : admin_(where_.database(), where_.options()), conn_(open_connection(where_.database(), {})) {}

  void audit_row(UnixTime at, const std::string& message_id) {
    AuditRecord r;
    r.at = at;
    r.message_id = message_id;
    r.recipient = "agent@example.net";
    r.reason = "a reason";
    insert_audit(*conn_, r);
  }

  // A reply created at `created`, then sent or abandoned at the given time (or pending).
  std::int64_t reply(const std::string& message_id, UnixTime created, std::optional<UnixTime> sent = {},
                     std::optional<UnixTime> abandoned = {}) {
    OutboxReply r;
    r.message_id = message_id;
    r.from = "agent@example.net";
    r.to = "requester@partner.example";
    r.task_id = "task-" + message_id;
    r.created_at = created;
    const auto id = admin_.enqueue_reply(r, created);
    conn_->prepare("UPDATE outbox SET sent_at = ?2, abandoned_at = ?3, attempts = 4, last_error = 'refused' "
                   "WHERE id = ?1")
        .bind(1, id)
        .bind(2, sent)
        .bind(3, abandoned)
        .run();
    return id;
  }

  std::vector<std::string> audit_ids() {
    std::vector<std::string> out;
    for (const auto& e : admin_.audit()) out.push_back(e.record.message_id);
    return out;
  }
  std::vector<std::int64_t> outbox_ids() {
    std::vector<std::int64_t> out;
    for (const auto& e : admin_.list_outbox()) out.push_back(e.reply.id);
    return out;
  }

  Target where_;
  PolicyAdmin admin_;
  std::unique_ptr<Connection> conn_;
};

class TargetNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};
using Targets = ::testing::Types<SqliteTarget, PostgresqlTarget>;
TYPED_TEST_SUITE(DataLifecycle, Targets, TargetNames);

TYPED_TEST(DataLifecycle, PruneRemovesOldAuditRowsAndFinishedRepliesOnly) {
  this->audit_row(kNow - 100 * kDay, "old-1");
  this->audit_row(kNow - 91 * kDay, "old-2");
  this->audit_row(kNow - 90 * kDay, "at-the-limit");  // not older than the limit: kept
  this->audit_row(kNow - 1, "new");
  const auto sent_old = this->reply("<s1>", kNow - 100 * kDay, kNow - 99 * kDay);
  const auto abandoned_old = this->reply("<a1>", kNow - 100 * kDay, std::nullopt, kNow - 95 * kDay);
  const auto pending_old = this->reply("<p1>", kNow - 100 * kDay);
  const auto sent_new = this->reply("<s2>", kNow - 100 * kDay, kNow - 10);
  const auto abandoned_new = this->reply("<a2>", kNow - 100 * kDay, std::nullopt, kNow - 10);

  const auto n = this->admin_.prune(kNow - 90 * kDay);
  EXPECT_EQ(n.audit, 2);
  EXPECT_EQ(n.outbox, 2);
  EXPECT_EQ(this->audit_ids(), (std::vector<std::string>{"at-the-limit", "new"}));
  EXPECT_EQ(this->outbox_ids(), (std::vector<std::int64_t>{pending_old, sent_new, abandoned_new}));
  EXPECT_NE(sent_old, abandoned_old);

  const auto again = this->admin_.prune(kNow - 90 * kDay);
  EXPECT_EQ(again.audit, 0);
  EXPECT_EQ(again.outbox, 0);
  // However late the limit, a pending reply stays.
  const auto all = this->admin_.prune(kNow + kDay);
  EXPECT_EQ(all.audit, 2);
  EXPECT_EQ(all.outbox, 2);
  EXPECT_EQ(this->outbox_ids(), (std::vector<std::int64_t>{pending_old}));
}

TYPED_TEST(DataLifecycle, PruneRegistryRemovesExpiredThreadsAndDeliveriesOnly) {
  SqlStore store(this->where_.database(), {});
  auto entry = [](ThreadKind kind, const std::string& task, const std::string& peer, UnixTime expires) {
    ThreadEntry e;
    e.kind = kind;
    e.task_id = task;
    e.initiator = "dispatcher@example.org";
    e.peer = peer;
    e.created_at = kNow - 40 * kDay;
    e.expires_at = expires;
    return e;
  };
  store.record_registry({{entry(ThreadKind::task, "T-old", "agent@example.net", kNow - kDay)}, {}});
  store.record_registry({{entry(ThreadKind::pair, "T-old", "agent@example.net", kNow - 1)}, {}});
  store.record_registry({{entry(ThreadKind::task, "T-at-limit", "agent@example.net", kNow)}, {}});  // not before now: kept
  store.record_registry({{entry(ThreadKind::task, "T-new", "agent@example.net", kNow + kDay)}, {}});
  store.record_registry({{}, {{"<old@x>", "agent@example.net", kNow - 40 * kDay, kNow - kDay}}});
  store.record_registry({{}, {{"<old@x>", "other@example.net", kNow - 40 * kDay, kNow + kDay}}});
  store.record_registry({{}, {{"<new@x>", "agent@example.net", kNow - 1, kNow + 30 * kDay}}});

  const auto n = prune_registry(*this->conn_, kNow, 1);  // one row per transaction
  EXPECT_EQ(n.threads, 2);
  EXPECT_EQ(n.deliveries, 1);
  EXPECT_FALSE(store.thread_at(ThreadKind::task, "agent@example.net", "T-old"));
  EXPECT_FALSE(store.thread_at(ThreadKind::pair, "agent@example.net", "T-old"));
  EXPECT_TRUE(store.thread_at(ThreadKind::task, "agent@example.net", "T-at-limit"));
  EXPECT_TRUE(store.thread_at(ThreadKind::task, "agent@example.net", "T-new"));
  EXPECT_FALSE(store.delivered_at("<old@x>", "agent@example.net"));
  EXPECT_EQ(store.delivered_at("<old@x>", "other@example.net"), kNow - 40 * kDay);
  EXPECT_EQ(store.delivered_at("<new@x>", "agent@example.net"), kNow - 1);
  const auto again = prune_registry(*this->conn_, kNow);
  EXPECT_EQ(again.threads, 0);
  EXPECT_EQ(again.deliveries, 0);
}

// A message's writes — its audit rows and registry entries — are one commit (on
// PostgreSQL one pipeline): a failing entry leaves none of them, not even the audit row.
TYPED_TEST(DataLifecycle, AMessagesWritesAreAllOrNothing) {
  SqlStore store(this->where_.database(), {});
  ThreadEntry good;
  good.task_id = "T1";
  good.initiator = "dispatcher@example.org";
  good.peer = "agent@example.net";
  good.created_at = kNow;
  good.expires_at = kNow + kDay;
  ThreadEntry bad = good;
  bad.peer = "Other@Example.NET";  // the schema keeps addresses lower case: this statement fails
  AuditRecord row;
  row.at = kNow;
  row.message_id = "Q1";
  row.recipient = "agent@example.net";
  MessageWrites w{{row}, {{good, bad}, {{"<m1@x>", "agent@example.net", kNow, kNow + kDay}}}};
  EXPECT_THROW(store.record_message(w), StoreError);
  EXPECT_FALSE(store.thread_at(ThreadKind::task, "agent@example.net", "T1"));
  EXPECT_FALSE(store.delivered_at("<m1@x>", "agent@example.net"));
  EXPECT_EQ(this->audit_ids(), std::vector<std::string>{});
  w.registry.threads.pop_back();
  store.record_message(w);
  EXPECT_TRUE(store.thread_at(ThreadKind::task, "agent@example.net", "T1"));
  EXPECT_EQ(store.delivered_at("<m1@x>", "agent@example.net"), kNow);
  EXPECT_EQ(this->audit_ids(), std::vector<std::string>{"Q1"});
}

TYPED_TEST(DataLifecycle, PruneInSmallBatchesRemovesEverythingOld) {
  for (int i = 0; i < 23; ++i) this->audit_row(kNow - kDay - i, "old");
  this->audit_row(kNow, "new");
  const auto n = prune_before(*this->conn_, kNow - 10, 5);  // five batches, the last one short
  EXPECT_EQ(n.audit, 23);
  EXPECT_EQ(this->audit_ids(), (std::vector<std::string>{"new"}));
  // A batch of exactly what is left: one more (empty) batch finds nothing.
  for (int i = 0; i < 10; ++i) this->audit_row(kNow - kDay - i, "old");
  EXPECT_EQ(prune_before(*this->conn_, kNow - 10, 5).audit, 10);
}

TYPED_TEST(DataLifecycle, PrunersRunningAtOnceRemoveEachRowOnce) {
  for (int i = 0; i < 400; ++i) this->audit_row(kNow - kDay - i, "old");
  std::atomic<std::int64_t> removed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      auto conn = open_connection(this->where_.database(), {.busy_timeout = std::chrono::milliseconds(20000)});
      removed += prune_before(*conn, kNow, 7).audit;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(removed.load(), 400);
  EXPECT_TRUE(this->audit_ids().empty());
}

TYPED_TEST(DataLifecycle, OutboxListRetryDrop) {
  const auto sent = this->reply("<s>", kNow - 3600, kNow - 3000);
  const auto abandoned = this->reply("<a>", kNow - 2 * kDay, std::nullopt, kNow - kDay);
  const auto pending = this->reply("<p>", kNow - 600);

  const auto all = this->admin_.list_outbox();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].state(), OutboxState::sent);
  EXPECT_EQ(all[1].state(), OutboxState::abandoned);
  EXPECT_EQ(all[2].state(), OutboxState::pending);
  EXPECT_EQ(all[2].reply.to, "requester@partner.example");
  EXPECT_EQ(all[2].reply.attempts, 4);
  EXPECT_EQ(all[2].reply.last_error, "refused");
  ASSERT_EQ(this->admin_.list_outbox(OutboxState::abandoned).size(), 1u);
  EXPECT_EQ(this->admin_.list_outbox(OutboxState::abandoned)[0].reply.id, abandoned);
  EXPECT_EQ(this->admin_.list_outbox(OutboxState::sent)[0].reply.id, sent);

  const auto retried = this->admin_.retry_reply(abandoned, kNow);
  EXPECT_EQ(retried.state(), OutboxState::pending);
  EXPECT_EQ(retried.reply.attempts, 0);
  EXPECT_EQ(retried.reply.next_attempt_at, kNow);
  EXPECT_EQ(retried.reply.created_at, kNow);
  EXPECT_EQ(retried.reply.last_error, "");
  EXPECT_EQ(retried.reply.message_id, "<a>");  // the same mail: a resend carries the same Message-ID
  EXPECT_THROW(this->admin_.retry_reply(sent, kNow), AdminError);
  EXPECT_THROW(this->admin_.retry_reply(9999, kNow), AdminError);

  const auto dropped = this->admin_.drop_reply(pending, kNow, "alice");
  EXPECT_EQ(dropped.state(), OutboxState::abandoned);
  EXPECT_EQ(dropped.abandoned_at, kNow);
  EXPECT_EQ(dropped.reply.last_error, "dropped by alice");
  const auto trail = this->admin_.audit();
  ASSERT_EQ(trail.size(), 1u);
  EXPECT_EQ(trail[0].verdict, "reply-abandoned");
  EXPECT_EQ(trail[0].record.reason, "dropped by alice");
  EXPECT_EQ(trail[0].record.message_id, "<p>");
  EXPECT_THROW(this->admin_.drop_reply(pending, kNow, "alice"), AdminError);
  EXPECT_THROW(this->admin_.drop_reply(sent, kNow, "alice"), AdminError);
  EXPECT_THROW(this->admin_.drop_reply(9999, kNow, "alice"), AdminError);
  EXPECT_EQ(this->admin_.audit().size(), 1u);  // a refusal writes nothing
}

TYPED_TEST(DataLifecycle, Backup) {
  const std::string copy = this->where_.dir.file("copy.db");
  if constexpr (!TypeParam::kSqlite) {
    try {
      this->admin_.backup(copy, false);
      FAIL() << "a PostgreSQL backup was not refused";
    } catch (const AdminError& e) {
      EXPECT_NE(std::string(e.what()).find("pg_dump"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(copy));
    return;
  }
  this->audit_row(kNow, "kept");
  this->admin_.add_mailbox({.address = "agent@example.net"}, kNow, "alice");
  this->admin_.backup(copy, false);
  struct stat st {};
  ASSERT_EQ(stat(copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  {
    PolicyAdmin restored(copy);  // at the current schema, or it throws
    EXPECT_EQ(restored.list_mailboxes().size(), 1u);
    EXPECT_EQ(restored.audit().size(), 1u);
  }
  EXPECT_THROW(this->admin_.backup(copy, false), AdminError);
  this->admin_.add_mailbox({.address = "@example.org"}, kNow, "alice");
  this->admin_.backup(copy, true);
  EXPECT_EQ(PolicyAdmin(copy).list_mailboxes().size(), 2u);
  EXPECT_THROW(this->admin_.backup(this->where_.database(), true), AdminError);  // never the database itself
  EXPECT_EQ(this->admin_.list_mailboxes().size(), 2u);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(this->where_.dir.path())) ++files;
  EXPECT_LE(files, 4u);  // policy.db (-wal, -shm) and copy.db: no temporary file left
}

// --- AuditRetention in the daemon ----------------------------------------------------------

struct FixedClock final : Clock {
  UnixTime now() const override { return kNow; }
};

TEST(AuditRetention, ConfigKey) {
  auto parse = [](const std::string& text) { return milter::parse_config("Database /x.db\n" + text, "t", "", "h"); };
  ASSERT_TRUE(parse(""));
  EXPECT_EQ(parse("")->audit_retention_s, 0);  // keep forever by default
  EXPECT_EQ(parse("AuditRetention 90d\n")->audit_retention_s, 90 * kDay);
  EXPECT_EQ(parse("AuditRetention 1h30m\n")->audit_retention_s, 5400);
  EXPECT_EQ(parse("AuditRetention off\n")->audit_retention_s, 0);
  EXPECT_EQ(parse("AuditRetention OFF\n")->audit_retention_s, 0);
  EXPECT_EQ(parse("AuditRetention 0\n")->audit_retention_s, 0);
  const auto bad = parse("AuditRetention forever\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("AuditRetention"), std::string::npos) << bad.error();
}

TEST(AuditRetention, Interval) {
  EXPECT_EQ(milter::prune_interval(3).count(), 3);
  EXPECT_EQ(milter::prune_interval(0).count(), 1);
  EXPECT_EQ(milter::prune_interval(3600).count(), 3600);
  EXPECT_EQ(milter::prune_interval(90 * kDay).count(), 3600);
}

TEST(AuditRetention, PrunerAppliesTheCurrentConfiguration) {
  test::TempDir dir;
  const std::string db = dir.file("policy.db");
  PolicyAdmin admin(db, {.create = true, .migrate = true});
  auto conn = open_connection(db, {});
  for (UnixTime age : {40 * kDay, 31 * kDay, 29 * kDay}) {
    AuditRecord r;
    r.at = kNow - age;
    insert_audit(*conn, r);
  }
  auto cfg = std::make_shared<milter::Config>();
  cfg->database = db;
  std::shared_ptr<const milter::Config> current = cfg;
  FixedClock clock;
  milter::Pruner pruner([&] { return current; }, clock);
  EXPECT_FALSE(pruner.prune_once());  // off: nothing done
  EXPECT_EQ(admin.audit().size(), 3u);
  auto next = std::make_shared<milter::Config>(*cfg);
  next->audit_retention_s = 30 * kDay;
  current = next;
  const auto n = pruner.prune_once();
  ASSERT_TRUE(n);
  EXPECT_EQ(n->audit, 2);
  EXPECT_EQ(admin.audit().size(), 1u);
  // The registry is pruned on every pass, whatever AuditRetention says.
  {
    SqlStore store(db, {});
    ThreadEntry e;
    e.task_id = "T-expired";
    e.initiator = "dispatcher@example.org";
    e.peer = "agent@example.net";
    e.created_at = kNow - 40 * kDay;
    e.expires_at = kNow - 10 * kDay;
    store.record_registry({{e}, {}});
    store.record_registry({{}, {{"<expired@x>", "agent@example.net", kNow - 40 * kDay, kNow - 10 * kDay}}});
  }
  auto off = std::make_shared<milter::Config>(*cfg);  // AuditRetention off
  current = off;
  const auto r = pruner.prune_registry_once();
  EXPECT_EQ(r.threads, 1);
  EXPECT_EQ(r.deliveries, 1);
  current = next;
  // The thread: started, a pass at once, stopped promptly.
  next = std::make_shared<milter::Config>(*next);
  next->audit_retention_s = 1;
  current = next;
  pruner.start();
  for (int i = 0; i < 3000 && !admin.audit().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(admin.audit().empty());
  pruner.stop();
}

}  // namespace
}  // namespace aamp::store
