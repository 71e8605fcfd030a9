// pg_driver_test.cpp — the PostgreSQL driver (store/pg.*) and the ConnectionPool
// (store/sql_common.cpp) against a real PostgreSQL 15 cluster that the test starts
// (tests/support/pg_cluster.hpp): statements round-trip every value, transactions commit
// and roll back, the schema version and migrations, lock_key across connections, and each
// error kind — with the password never in a message.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <limits>
#include <thread>

#include "store/migrations.hpp"
#include "store/pg.hpp"
#include "store/sql.hpp"
#include "tests/support/paths.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::store {
namespace {

using test::PgCluster;
using test::run_capture;
using test::TempDir;

// The SQLite migrations' file names (schema/sqlite/, or schema/ before they move), sorted.
std::vector<std::string> sqlite_migration_files() {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(test::source_dir()) / "schema" / "sqlite";
  if (!fs::is_directory(dir)) dir = dir.parent_path();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 5 && name[4] == '_' && name.ends_with(".sql")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Each test works in its own schema, so that tests do not see each other's tables.
class PgDriver : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster().superuser_sql("DROP SCHEMA IF EXISTS t CASCADE; CREATE SCHEMA t AUTHORIZATION aamp;");
    conn_ = connect();
  }
  static PgCluster& cluster() { return PgCluster::shared(); }
  static std::string url() { return cluster().url() + "?options=-csearch_path%3Dt"; }
  static std::unique_ptr<Connection> connect(ConnectionOptions options = {}) {
    return open_pg_connection(url(), options);
  }
  // The backend process id of `conn`, for pg_terminate_backend.
  static std::int64_t backend_pid(Connection& conn) {
    auto st = conn.prepare("SELECT pg_backend_pid()");
    EXPECT_TRUE(st.step());
    return st.int64(0);
  }
  static void expect_no_password(const std::string& what) {
    EXPECT_EQ(what.find(PgCluster::kPassword), std::string::npos) << what;
  }

  std::unique_ptr<Connection> conn_;
};

TEST_F(PgDriver, DescribesItself) {
  EXPECT_EQ(conn_->dialect(), Dialect::postgresql);
  EXPECT_EQ(conn_->path(), display_database(url()));
  expect_no_password(conn_->path());
  EXPECT_TRUE(conn_->usable());
  auto st = conn_->prepare("SELECT current_setting('application_name'), current_setting('lock_timeout')");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), "aamp-milter");
  EXPECT_EQ(st.text(1), "5s");
}

TEST_F(PgDriver, RoundTripsValues) {
  conn_->exec("CREATE TABLE v (id integer, i bigint, s text)", "creating");
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const std::string tricky = "it's \"quoted\" ?1 $1 \\ ; -- é ü 中文 🙂";
  {
    auto ins = conn_->prepare("INSERT INTO v (id, i, s) VALUES (?1, ?2, ?3)");
    ins.bind(1, 1).bind(2, lo).bind(3, tricky).run();
  }
  {
    auto ins = conn_->prepare("INSERT INTO v (id, i, s) VALUES (?1, ?2, ?3)");  // the cached one again
    ins.bind(1, 2).bind(2, hi).bind(3, "").run();
  }
  {
    auto ins = conn_->prepare("INSERT INTO v (id, i, s) VALUES (?1, ?2, ?3)");
    ins.bind(1, 3).bind(2, std::optional<std::int64_t>()).bind(3, nullptr).run();
  }
  auto st = conn_->prepare("SELECT id, i, s FROM v WHERE id >= ?1 ORDER BY id");
  st.bind(1, 1);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(1), lo);
  EXPECT_EQ(st.text(2), tricky);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(1), hi);
  EXPECT_EQ(st.maybe_text(2), std::optional<std::string>(""));  // empty, not NULL
  ASSERT_TRUE(st.step());
  EXPECT_TRUE(st.is_null(1));
  EXPECT_EQ(st.maybe_int64(1), std::nullopt);
  EXPECT_EQ(st.maybe_text(2), std::nullopt);
  EXPECT_FALSE(st.step());
}

TEST_F(PgDriver, ReadsBooleansAsSqliteDoes) {
  auto st = conn_->prepare("SELECT 1 = 1, 1 = 2, EXISTS (SELECT 1 WHERE false), CAST(?1 AS bigint) IS NULL");
  st.bind(1, nullptr);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 1);
  EXPECT_EQ(st.int64(1), 0);
  EXPECT_EQ(st.int64(2), 0);
  EXPECT_EQ(st.int64(3), 1);
}

TEST_F(PgDriver, StatementsResetWhenTheyGo) {
  conn_->exec("CREATE TABLE v (i bigint)", "creating");
  conn_->exec("INSERT INTO v VALUES (1), (2), (3)", "filling");
  const std::string_view sql = "SELECT i FROM v WHERE i >= ?1 ORDER BY i";
  {
    auto st = conn_->prepare(sql);
    st.bind(1, 2);
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.int64(0), 2);  // abandoned half-way
  }
  auto st = conn_->prepare(sql);  // bindings cleared: must bind again, runs afresh
  st.bind(1, 1);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 1);
}

TEST_F(PgDriver, CountsChanges) {
  conn_->exec("CREATE TABLE v (i bigint)", "creating");
  conn_->prepare("INSERT INTO v SELECT generate_series(1, ?1)").bind(1, 5).run();
  EXPECT_EQ(conn_->changes(), 5);
  conn_->prepare("UPDATE v SET i = i + 1 WHERE i > ?1").bind(1, 3).run();
  EXPECT_EQ(conn_->changes(), 2);
  conn_->prepare("DELETE FROM v WHERE i > ?1").bind(1, 100).run();
  EXPECT_EQ(conn_->changes(), 0);
  auto st = conn_->prepare("UPDATE v SET i = 0 WHERE i = ?1 RETURNING i");
  st.bind(1, 1);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(conn_->changes(), 1);
}

TEST_F(PgDriver, TransactionsCommitOrRollBack) {
  conn_->exec("CREATE TABLE v (i bigint)", "creating");
  {
    Transaction tx(*conn_, TransactionKind::write);
    conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, 1).run();
    tx.commit();
  }
  {
    Transaction tx(*conn_, TransactionKind::write);
    conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, 2).run();
  }  // rolled back
  auto other = connect();
  auto st = other->prepare("SELECT count(*), max(i) FROM v");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 1);
  EXPECT_EQ(st.int64(1), 1);
}

// Several writes travel in one pipeline and are one transaction: all of them, every value
// kind bound, or none, with the failing statement named and the connection usable after.
TEST_F(PgDriver, WriteAllIsOnePipelineAndOneTransaction) {
  conn_->exec("CREATE TABLE v (i bigint UNIQUE, s text, n bigint)", "creating");
  constexpr std::string_view kInsert = "INSERT INTO v VALUES (?1, ?2, ?3)";
  const std::optional<std::int64_t> none;
  conn_->write_all({Write(kInsert, 1, "one", none), Write(kInsert, std::int64_t{2}, std::string("two"), nullptr),
                    Write(kInsert, 3, std::string_view("three"), std::optional<std::int64_t>(7))});
  auto other = connect();
  auto count = [&] {
    auto st = other->prepare("SELECT count(*), count(n), string_agg(s, ',' ORDER BY i) FROM v");
    EXPECT_TRUE(st.step());
    return std::to_string(st.int64(0)) + "/" + std::to_string(st.int64(1)) + "/" + st.text(2);
  };
  EXPECT_EQ(count(), "3/1/one,two,three");
  try {  // the second of four fails: the first is rolled back, the last two never run
    conn_->write_all({Write(kInsert, 4, "four", none), Write(kInsert, 1, "again", none),
                      Write(kInsert, 5, "five", none), Write("UPDATE v SET s = 'changed'")});
    FAIL() << "a duplicate key was written";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::io) << e.what();
    EXPECT_NE(std::string(e.what()).find("duplicate key"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("in a pipeline"), std::string::npos) << e.what();
    expect_no_password(e.what());
  }
  EXPECT_EQ(count(), "3/1/one,two,three");
  EXPECT_TRUE(conn_->usable());
  conn_->prepare("INSERT INTO v VALUES (?1, ?2, ?3)").bind(1, 6).bind(2, "six").bind(3, nullptr).run();
  conn_->write_all({Write(kInsert, 7, "seven", none), Write(kInsert, 8, "eight", none)});
  EXPECT_EQ(count(), "6/1/one,two,three,six,seven,eight");
}

TEST_F(PgDriver, WriteAllOnATerminatedBackendIsUnavailable) {
  conn_->exec("CREATE TABLE v (i bigint)", "creating");
  constexpr std::string_view kInsert = "INSERT INTO v VALUES (?1)";
  conn_->write_all({Write(kInsert, 1), Write(kInsert, 2)});  // prepared before the kill
  cluster().superuser_sql("SELECT pg_terminate_backend(" + std::to_string(backend_pid(*conn_)) + ", 30000)");
  try {
    conn_->write_all({Write(kInsert, 3), Write(kInsert, 4)});
    FAIL() << "wrote on a terminated backend";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
    expect_no_password(e.what());
  }
  EXPECT_FALSE(conn_->usable());
  auto other = connect();
  auto st = other->prepare("SELECT count(*) FROM v");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 2);
}

TEST_F(PgDriver, ReadTransactionsAreReadOnlySnapshots) {
  conn_->exec("CREATE TABLE v (i bigint)", "creating");
  auto other = connect();
  Transaction tx(*conn_, TransactionKind::read);
  auto count = [&] {
    auto st = conn_->prepare("SELECT count(*) FROM v");
    EXPECT_TRUE(st.step());
    return st.int64(0);
  };
  EXPECT_EQ(count(), 0);
  other->prepare("INSERT INTO v VALUES (?1)").bind(1, 1).run();
  EXPECT_EQ(count(), 0);  // the snapshot of the first read
  try {
    conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, 2).run();
    FAIL() << "a read transaction wrote";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::io) << e.what();
  }
}

TEST_F(PgDriver, CommitAfterAFailedStatementThrows) {
  conn_->exec("CREATE TABLE v (i bigint UNIQUE)", "creating");
  Transaction tx(*conn_, TransactionKind::write);
  conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, 1).run();
  EXPECT_THROW(conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, 1).run(), StoreError);
  // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK: that is a failure.
  EXPECT_THROW(tx.commit(), StoreError);
  auto st = conn_->prepare("SELECT count(*) FROM v");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 0);
}

TEST_F(PgDriver, SchemaVersion) {
  EXPECT_EQ(conn_->schema_version(), 0);  // a fresh database: no version table
  {
    Transaction tx(*conn_, TransactionKind::write);
    conn_->set_schema_version(3);
    tx.commit();
  }
  EXPECT_EQ(conn_->schema_version(), 3);
  {
    Transaction tx(*conn_, TransactionKind::write);
    conn_->set_schema_version(4);
  }  // rolled back
  EXPECT_EQ(conn_->schema_version(), 3);
  {
    Transaction tx(*conn_, TransactionKind::write);
    conn_->set_schema_version(4);
    tx.commit();
  }
  EXPECT_EQ(connect()->schema_version(), 4);
}

TEST_F(PgDriver, AppliesEveryMigration) {
  ASSERT_FALSE(kPgMigrations.empty());
  const auto sqlite_files = sqlite_migration_files();
  ASSERT_EQ(kPgMigrations.size(), sqlite_files.size()) << "numbered in lockstep with SQLite's";
  for (std::size_t i = 0; i < kPgMigrations.size(); ++i) {
    const auto& m = kPgMigrations[i];
    EXPECT_EQ(m.version, static_cast<int>(i) + 1);
    EXPECT_EQ(std::string_view(m.name).substr(0, 5), std::string_view(sqlite_files[i]).substr(0, 5));
    Transaction tx(*conn_, TransactionKind::write);
    conn_->exec(m.sql, m.name);
    conn_->set_schema_version(m.version);
    tx.commit();
  }
  EXPECT_EQ(conn_->schema_version(), kPgMigrations.back().version);

  // The store's upserts name the unique indexes the schema must have.
  const std::int64_t t = 1700000000;
  std::int64_t mailbox = 0;
  {
    auto st = conn_->prepare(
        "INSERT INTO mailboxes (address, created_at, created_by, updated_at) VALUES (?1, ?2, ?3, ?2) RETURNING id");
    st.bind(1, "bot@example.org").bind(2, t).bind(3, "test");
    ASSERT_TRUE(st.step());
    mailbox = st.int64(0);
  }
  const std::string_view paired =
      "INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, created_at, created_by, "
      "updated_at) VALUES (?1, ?2, 'exact', ?3, 'paired', ?4, ?5, ?4) "
      "ON CONFLICT (mailbox_id, pattern) WHERE origin = 'paired' "
      "DO UPDATE SET context_rules = excluded.context_rules, updated_at = excluded.updated_at RETURNING id";
  std::int64_t first = 0;
  for (int round = 0; round < 2; ++round) {
    auto st = conn_->prepare(paired);
    st.bind(1, mailbox).bind(2, "alice@x.com").bind(3, round == 0 ? "{}" : R"({"a":["b"]})").bind(4, t + round);
    st.bind(5, "pair-code:1");
    ASSERT_TRUE(st.step());
    if (round == 0) first = st.int64(0);
    EXPECT_EQ(st.int64(0), first);  // the second pairing updated the first rule
  }
  for (const char* sql : {"INSERT INTO pair_lockouts (mailbox_id, locked_at, until, failures) VALUES (?1, ?2, ?3, ?4) "
                          "ON CONFLICT (mailbox_id) DO UPDATE SET locked_at = excluded.locked_at, until = excluded.until, "
                          "failures = excluded.failures",
                          "INSERT INTO pair_lockouts (requester, locked_at, until, failures) VALUES (?1, ?2, ?3, ?4) "
                          "ON CONFLICT (requester) DO UPDATE SET locked_at = excluded.locked_at, until = excluded.until, "
                          "failures = excluded.failures"}) {
    for (int round = 0; round < 2; ++round) {
      auto st = conn_->prepare(sql);
      if (std::string_view(sql).find("(mailbox_id,") != std::string_view::npos)
        st.bind(1, mailbox);
      else
        st.bind(1, "mallory@x.com");
      st.bind(2, t).bind(3, t + 60 + round).bind(4, 5).run();
      EXPECT_EQ(conn_->changes(), 1);
    }
  }
  auto st = conn_->prepare("SELECT count(*), max(until) FROM pair_lockouts");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 2);
  EXPECT_EQ(st.int64(1), t + 61);
}

TEST_F(PgDriver, LockKeyHoldsUntilCommit) {
  ConnectionOptions patient;
  patient.busy_timeout = std::chrono::seconds(60);  // the wait below must end by our commit
  auto other = connect(patient);
  Transaction tx(*conn_, TransactionKind::write);
  conn_->lock_key("mailbox:7");
  std::atomic<bool> committed{false};
  std::atomic<bool> saw_commit{false};
  auto waiter = std::async(std::launch::async, [&] {
    Transaction tx2(*other, TransactionKind::write);
    other->lock_key("mailbox:7");  // waits (at most the 5 s lock timeout) for the commit
    saw_commit = committed.load();
    tx2.commit();
  });
  {
    // A different key is free meanwhile.
    auto third = connect();
    Transaction tx3(*third, TransactionKind::write);
    third->lock_key("mailbox:8");
    tx3.commit();
  }
  // Commit once the waiter is blocked on our lock (bounded: the lock timeout would end it).
  for (int i = 0; i < 2000; ++i) {
    auto st = conn_->prepare(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
    ASSERT_TRUE(st.step());
    if (st.int64(0) > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  committed = true;
  tx.commit();
  waiter.get();
  EXPECT_TRUE(saw_commit) << "the second transaction got the key before the first committed";
}

TEST_F(PgDriver, LockKeyTimesOutAsBusy) {
  ConnectionOptions quick;
  quick.busy_timeout = std::chrono::milliseconds(200);
  auto other = connect(quick);
  Transaction tx(*conn_, TransactionKind::write);
  conn_->lock_key("requester:x");
  Transaction tx2(*other, TransactionKind::write);
  try {
    other->lock_key("requester:x");
    FAIL() << "took a held key";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::busy) << e.what();
    expect_no_password(e.what());
  }
  EXPECT_TRUE(other->usable());
}

TEST_F(PgDriver, TerminatedBackendIsUnavailable) {
  const auto pid = backend_pid(*conn_);
  conn_->prepare("SELECT 1").run();  // cached before the kill
  cluster().superuser_sql("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 30000)");
  try {
    conn_->prepare("SELECT 1").run();
    FAIL() << "ran on a terminated backend";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
    expect_no_password(e.what());
    EXPECT_NE(std::string(e.what()).find(conn_->path()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(conn_->usable());
  try {
    conn_->prepare("SELECT 2").run();  // preparing anew fails the same way
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
  }
  conn_->rollback();  // harmless on a dead connection
}

TEST_F(PgDriver, WrongPasswordIsUnavailableAndNotShown) {
  std::string bad = cluster().url();
  bad.replace(bad.find(PgCluster::kPassword), std::string_view(PgCluster::kPassword).size(), "Wr0ng-pw-42");
  try {
    open_pg_connection(bad, {});
    FAIL() << "connected with a wrong password";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
    EXPECT_EQ(std::string(e.what()).find("Wr0ng-pw-42"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos) << e.what();
  }
}

// The port of the cluster's URL.
std::string cluster_port() {
  const std::string& url = PgCluster::shared().url();
  const std::size_t colon = url.rfind(':');
  return url.substr(colon + 1, url.find('/', colon) - colon - 1);
}

TEST_F(PgDriver, KeywordFormConnects) {
  const std::string conninfo = "host=127.0.0.1 port=" + cluster_port() + " dbname=aamp user=aamp password='" +
                               PgCluster::kPassword + "' application_name='aamp test'";
  auto conn = open_connection(conninfo, {});
  EXPECT_EQ(conn->dialect(), Dialect::postgresql);
  expect_no_password(conn->path());
  auto st = conn->prepare("SELECT current_user, current_setting('application_name')");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.text(0), "aamp");
  EXPECT_EQ(st.text(1), "aamp test");  // the connection string's own wins over our default
  std::string wrong = conninfo;
  wrong.replace(wrong.find(PgCluster::kPassword), std::string_view(PgCluster::kPassword).size(), "Wr0ng pw 42");
  try {
    open_connection(wrong, {});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
    EXPECT_EQ(std::string(e.what()).find("Wr0ng"), std::string::npos) << e.what();
  }
}

TEST_F(PgDriver, MultiHostUrlFindsTheWritableServer) {
  // The first host refuses connections; libpq goes on to the second, which is writable.
  const std::string url = std::string("postgresql://aamp:") + PgCluster::kPassword + "@127.0.0.1:1,127.0.0.1:" +
                          cluster_port() + "/aamp?target_session_attrs=read-write";
  auto conn = open_connection(url, {});
  expect_no_password(conn->path());
  EXPECT_NE(conn->path().find("127.0.0.1:1,127.0.0.1:"), std::string::npos) << conn->path();
  auto st = conn->prepare("SELECT inet_server_port()");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(std::to_string(st.int64(0)), cluster_port());
}

// TLS to the database, as docs/multi-mx.md sets it up: verify-full against the server's
// certificate encrypts; a client that trusts another root refuses the server.
TEST_F(PgDriver, TlsVerifyFullEncryptsAndRefusesAnUntrustedServer) {
  const auto ssl_in_use = [](Connection& conn) {
    auto st = conn.prepare("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    return st.step() && st.int64(0) == 1;
  };
  auto verified = open_connection(cluster().url() + "?sslmode=verify-full&sslrootcert=" + cluster().ca_file(), {});
  EXPECT_TRUE(ssl_in_use(*verified));
  auto plain = open_connection(cluster().url() + "?sslmode=disable", {});
  EXPECT_FALSE(ssl_in_use(*plain));

  TempDir other;  // a root that did not sign the server's certificate
  const std::string wrong_root = other.file("other.crt");
  run_capture({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
               "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", other.file("other.key"), "-out", wrong_root});
  try {
    open_connection(cluster().url() + "?sslmode=verify-full&sslrootcert=" + wrong_root, {});
    FAIL() << "a server the client does not trust was accepted";
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
    expect_no_password(e.what());
  }
}

TEST_F(PgDriver, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nobody listens there.
  try {
    open_pg_connection("postgresql://aamp:" + std::string(PgCluster::kPassword) + "@127.0.0.1:1/aamp", {});
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
    expect_no_password(e.what());
  }
}

TEST_F(PgDriver, MalformedConnectionStringNeverQuotesThePassword) {
  for (const std::string bad : {"postgresql://aamp:pa%zzS3cr3t@127.0.0.1/aamp",
                                "host=127.0.0.1 password='S3cr3t-unterminated",
                                "postgresql://aamp:S3cr3t@127.0.0.1/aamp?bogus_option=1"}) {
    SCOPED_TRACE(bad);
    try {
      open_pg_connection(bad, {});
      FAIL();
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
      EXPECT_EQ(std::string(e.what()).find("S3cr3t"), std::string::npos) << e.what();
    }
  }
}

TEST_F(PgDriver, ConstraintViolationIsIo) {
  conn_->exec("CREATE TABLE v (s text UNIQUE)", "creating");
  conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, "x").run();
  try {
    conn_->prepare("INSERT INTO v VALUES (?1)").bind(1, "x").run();
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::io) << e.what();
    EXPECT_NE(std::string(e.what()).find("duplicate key"), std::string::npos) << e.what();
    expect_no_password(e.what());
  }
  EXPECT_TRUE(conn_->usable());
}

TEST_F(PgDriver, BadSqlIsIoAndNamesTheStatement) {
  try {
    conn_->prepare("SELECT nope FROM nowhere WHERE x = ?1");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::io) << e.what();
    EXPECT_NE(std::string(e.what()).find("preparing \"SELECT nope"), std::string::npos) << e.what();
  }
  try {
    conn_->exec("CREATE TABLE (", "applying migration 0099_bad.sql");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("applying migration 0099_bad.sql"), std::string::npos) << e.what();
  }
}

TEST_F(PgDriver, RefusesNulInText) {
  conn_->exec("CREATE TABLE v (s text)", "creating");
  auto st = conn_->prepare("INSERT INTO v VALUES (?1)");
  EXPECT_THROW(st.bind(1, std::string_view("a\0b", 3)), StoreError);
}

TEST_F(PgDriver, OpenConnectionDispatchesByDialect) {
  auto conn = open_connection(url(), {});
  EXPECT_EQ(conn->dialect(), Dialect::postgresql);
}

TEST_F(PgDriver, PoolDropsBrokenConnections) {
  ConnectionOptions options;
  options.busy_timeout = std::chrono::milliseconds(2000);
  ConnectionPool pool(url(), options, 1);
  EXPECT_EQ(pool.path(), display_database(url()));
  expect_no_password(pool.path());
  std::int64_t pid = 0;
  {
    auto lease = pool.acquire();
    pid = backend_pid(*lease);
  }
  {
    auto lease = pool.acquire();
    EXPECT_EQ(backend_pid(*lease), pid) << "the idle connection is reused";
    cluster().superuser_sql("SELECT pg_terminate_backend(" + std::to_string(pid) + ", 30000)");
    EXPECT_THROW(lease->prepare("SELECT 1").run(), StoreError);
    EXPECT_FALSE(lease->usable());
  }  // dropped, and its slot freed: with max 1, acquire would time out otherwise
  auto lease = pool.acquire();
  EXPECT_TRUE(lease->usable());
  EXPECT_NE(backend_pid(*lease), pid);
}

TEST_F(PgDriver, PoolTimesOutAsBusyWhenAllAreLent) {
  ConnectionOptions options;
  options.busy_timeout = std::chrono::milliseconds(100);
  ConnectionPool pool(url(), options, 1);
  auto held = pool.acquire();
  try {
    pool.acquire();
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_EQ(e.kind(), StoreErrorKind::busy);
    expect_no_password(e.what());
  }
}

TEST_F(PgDriver, PoolOpenFailureFreesTheSlot) {
  ConnectionOptions options;
  options.busy_timeout = std::chrono::milliseconds(1000);
  std::string bad = cluster().url();
  bad.replace(bad.find(PgCluster::kPassword), std::string_view(PgCluster::kPassword).size(), "Wr0ng-pw-42");
  ConnectionPool pool(bad, options, 1);
  for (int i = 0; i < 2; ++i) {  // the second try gets the slot again: unavailable, not busy
    try {
      pool.acquire();
      FAIL();
    } catch (const StoreError& e) {
      EXPECT_EQ(e.kind(), StoreErrorKind::unavailable) << e.what();
      EXPECT_EQ(std::string(e.what()).find("Wr0ng-pw-42"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace aamp::store
