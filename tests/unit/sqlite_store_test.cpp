// sqlite_store_test.cpp — what only the SQLite store has: migrations (from empty and from
// every earlier version, generic over kSqliteMigrations), schema versions it refuses, the mapping
// of SQLite failures to StoreErrorKind (missing directory, read-only file, garbage file,
// a lock held past the busy timeout, a full database), and concurrency: threads of this
// process and a second process (store_race_helper) racing for the same pair codes.
// Everything runs on real database files in a temporary directory.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "policy/pair_code.hpp"
#include "store/admin.hpp"
#include "store/migrate.hpp"
#include "store/sqlite.hpp"
#include "store/sql_store.hpp"
#include "tests/support/temp_dir.hpp"

namespace aamp::test {
namespace {

using namespace std::chrono_literals;
using store::Connection;
using store::SqliteConnection;
using store::ConnectionOptions;
using store::kSqliteMigrations;
using store::Migration;

constexpr UnixTime kNow = 1'800'000'000;

// Every schema object but SQLite's own, as text: two databases with the same text have
// the same tables, columns, constraints and indexes.
std::string schema_of(Connection& conn) {
  auto st = conn.prepare(
      "SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_schema "
      "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name");
  std::string out;
  while (st.step()) out += st.text(0) + "\n";
  return out;
}

std::vector<std::string> problems_of(Connection& conn) {
  std::vector<std::string> out;
  {
    auto st = conn.prepare("PRAGMA integrity_check");
    while (st.step())
      if (st.text(0) != "ok") out.push_back(st.text(0));
  }
  auto st = conn.prepare("PRAGMA foreign_key_check");
  while (st.step()) out.push_back("foreign key: " + st.text(0));
  return out;
}

ConnectionOptions create() {
  ConnectionOptions o;
  o.create = true;
  return o;
}

StoreErrorKind kind_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const StoreError& e) {
    if (message != nullptr) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no StoreError";
  return StoreErrorKind::io;
}

std::string read_file(const std::string& path) {
  std::string out;
  std::unique_ptr<std::FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f.get())) > 0;) out.append(buf, n);
  return out;
}

// --- migrations ------------------------------------------------------------------------

TEST(Migrations, AreNumberedFromOneWithoutGaps) {
  ASSERT_FALSE(kSqliteMigrations.empty());
  for (std::size_t i = 0; i < kSqliteMigrations.size(); ++i) {
    SCOPED_TRACE(kSqliteMigrations[i].name);
    EXPECT_EQ(kSqliteMigrations[i].version, static_cast<int>(i) + 1);
    EXPECT_EQ(std::string(kSqliteMigrations[i].name).substr(0, 4), fmt::format("{:04}", i + 1));
  }
  EXPECT_EQ(store::latest_version(), kSqliteMigrations.back().version);
}

TEST(Migrations, FromEmptyToLatest) {
  TempDir dir;
  auto conn = SqliteConnection::open(dir.file("p.db"), create());
  EXPECT_EQ(store::schema_version(*conn), 0);
  const auto r = store::migrate(*conn);
  EXPECT_EQ(r.from, 0);
  EXPECT_EQ(r.to, store::latest_version());
  EXPECT_EQ(store::schema_version(*conn), store::latest_version());
  EXPECT_TRUE(problems_of(*conn).empty());
  EXPECT_NO_THROW(store::require_current(*conn));
  // Migrating again changes nothing.
  const std::string before = schema_of(*conn);
  const auto again = store::migrate(*conn);
  EXPECT_EQ(again.from, again.to);
  EXPECT_EQ(schema_of(*conn), before);
}

TEST(Migrations, FromEveryEarlierVersionToTheSameSchema) {
  TempDir dir;
  auto fresh = SqliteConnection::open(dir.file("fresh.db"), create());
  store::migrate(*fresh);
  const std::string want = schema_of(*fresh);
  for (std::size_t v = 0; v < kSqliteMigrations.size(); ++v) {
    SCOPED_TRACE("from version " + std::to_string(v));
    // Appended, not "v" + a temporary string: GCC 12 at -O3 reports a false -Wrestrict.
    auto conn = SqliteConnection::open(dir.file(std::string("v").append(std::to_string(v)).append(".db")), create());
    const std::vector<Migration> prefix(kSqliteMigrations.begin(), kSqliteMigrations.begin() + static_cast<long>(v));
    EXPECT_EQ(store::migrate(*conn, prefix).to, static_cast<int>(v));
    if (v > 0) {
      EXPECT_THROW(store::require_current(*conn), StoreError);
    }
    const auto r = store::migrate(*conn);
    EXPECT_EQ(r.from, static_cast<int>(v));
    EXPECT_EQ(r.to, store::latest_version());
    EXPECT_EQ(schema_of(*conn), want);
    EXPECT_TRUE(problems_of(*conn).empty());
  }
}

TEST(Migrations, AFailingMigrationLeavesThePreviousVersion) {
  TempDir dir;
  auto conn = SqliteConnection::open(dir.file("p.db"), create());
  std::vector<Migration> broken(kSqliteMigrations.begin(), kSqliteMigrations.end());
  broken.push_back({static_cast<int>(broken.size()) + 1, "9999_broken.sql",
                    "CREATE TABLE half_done (x INTEGER) STRICT; THIS IS NOT SQL;"});
  std::string message;
  EXPECT_EQ(kind_of([&] { store::migrate(*conn, broken); }, &message), StoreErrorKind::io);
  EXPECT_NE(message.find("9999_broken.sql"), std::string::npos) << message;
  EXPECT_EQ(store::schema_version(*conn), store::latest_version());
  EXPECT_EQ(schema_of(*conn).find("half_done"), std::string::npos);
}

TEST(Migrations, RefusesGapsInNumbering) {
  TempDir dir;
  auto conn = SqliteConnection::open(dir.file("p.db"), create());
  const std::vector<Migration> gap = {{1, "0001_a.sql", "CREATE TABLE a (x INTEGER) STRICT;"},
                                      {3, "0003_c.sql", "CREATE TABLE c (x INTEGER) STRICT;"}};
  EXPECT_EQ(kind_of([&] { store::migrate(*conn, gap); }), StoreErrorKind::schema);
  EXPECT_EQ(store::schema_version(*conn), 0);
}

TEST(Migrations, ADatabaseNewerThanTheProgramIsRefused) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  {
    auto conn = SqliteConnection::open(path, create());
    store::migrate(*conn);
    conn->exec(fmt::format("PRAGMA user_version = {}", store::latest_version() + 1), "test");
  }
  struct Row {
    const char* label;
    std::function<void()> open;
  };
  const Row rows[] = {
      {"store", [&] { store::SqlStore s(path); }},
      {"store, migrating", [&] { store::SqlStore s(path, {.migrate = true}); }},
      {"admin", [&] { store::PolicyAdmin a(path); }},
      {"admin, migrating", [&] { store::PolicyAdmin a(path, {.migrate = true}); }},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    std::string message;
    EXPECT_EQ(kind_of(row.open, &message), StoreErrorKind::schema);
    EXPECT_NE(message.find("newer than this program"), std::string::npos) << message;
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
}

// A rolling upgrade: `aampctl migrate` (the newer release) ran first and its migrations
// declared themselves additive; this program, one release older, keeps serving.
TEST(Migrations, ANewerSchemaDeclaredReadableIsServedButNeverMigrated) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  const int latest = store::latest_version();
  auto newer_by = [&](int min_reader) {
    auto conn = SqliteConnection::open(path, create());
    if (store::schema_version(*conn) <= latest) store::migrate(*conn);
    conn->exec(fmt::format("PRAGMA user_version = {0}; INSERT OR REPLACE INTO schema_compat VALUES ({0}, {1})",
                           latest + 1, min_reader),
               "test");
  };
  newer_by(latest);  // additive: readable by this program
  EXPECT_NO_THROW(store::SqlStore{path});
  EXPECT_NO_THROW(store::PolicyAdmin{path});
  std::string message;
  EXPECT_EQ(kind_of([&] { store::PolicyAdmin a(path, {.migrate = true}); }, &message), StoreErrorKind::schema);
  EXPECT_NE(message.find("newer than this program"), std::string::npos) << message;

  newer_by(latest + 1);  // needs the newer program
  EXPECT_EQ(kind_of([&] { store::SqlStore s(path); }, &message), StoreErrorKind::schema);
  EXPECT_NE(message.find("newer than this program"), std::string::npos) << message;
}

TEST(Migrations, EachAppliedMigrationRecordsWhoMayReadIt) {
  TempDir dir;
  auto conn = SqliteConnection::open(dir.file("p.db"), create());
  store::migrate(*conn);
  auto st = conn->prepare("SELECT version, min_reader FROM schema_compat ORDER BY version");
  int rows = 0;
  while (st.step()) {
    ++rows;
    EXPECT_LE(st.int64(1), st.int64(0));
    EXPECT_GE(st.int64(0), 6);
  }
  EXPECT_EQ(rows, store::latest_version() - 5);  // one per migration from 0006 on
}

TEST(Migrations, AnUninitialisedDatabaseIsRefusedUnlessMigrating) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  SqliteConnection::open(path, create());
  std::string message;
  EXPECT_EQ(kind_of([&] { store::SqlStore s(path); }, &message), StoreErrorKind::schema);
  EXPECT_NE(message.find("aampctl init"), std::string::npos) << message;
  EXPECT_NO_THROW(store::SqlStore(path, {.migrate = true}));
  EXPECT_NO_THROW(store::SqlStore{path});
}

// --- error mapping ---------------------------------------------------------------------

TEST(SqliteErrors, ResultCodesMapToKinds) {
  struct Row {
    const char* label;
    int rc;
    StoreErrorKind want;
  };
  const Row rows[] = {
      {"busy", SQLITE_BUSY, StoreErrorKind::busy},
      {"busy snapshot", SQLITE_BUSY_SNAPSHOT, StoreErrorKind::busy},
      {"locked", SQLITE_LOCKED, StoreErrorKind::busy},
      {"cannot open", SQLITE_CANTOPEN, StoreErrorKind::unavailable},
      {"cannot open dir", SQLITE_CANTOPEN_ISDIR, StoreErrorKind::unavailable},
      {"permission", SQLITE_PERM, StoreErrorKind::unavailable},
      {"read-only", SQLITE_READONLY, StoreErrorKind::unavailable},
      {"read-only, moved", SQLITE_READONLY_DBMOVED, StoreErrorKind::unavailable},
      {"corrupt", SQLITE_CORRUPT, StoreErrorKind::corrupt},
      {"corrupt index", SQLITE_CORRUPT_INDEX, StoreErrorKind::corrupt},
      {"not a database", SQLITE_NOTADB, StoreErrorKind::corrupt},
      {"full", SQLITE_FULL, StoreErrorKind::full},
      {"io write", SQLITE_IOERR_WRITE, StoreErrorKind::io},
      {"constraint", SQLITE_CONSTRAINT_UNIQUE, StoreErrorKind::io},
      {"generic", SQLITE_ERROR, StoreErrorKind::io},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(store::error_kind(row.rc), row.want);
  }
}

TEST(SqliteErrors, MissingDirectoryOrFileIsUnavailable) {
  TempDir dir;
  struct Row {
    const char* label;
    std::string path;
    bool create;
  };
  const Row rows[] = {
      {"missing directory", dir.file("no/such/dir/p.db"), true},
      {"missing file, no create", dir.file("missing.db"), false},
      {"a directory", dir.path().string(), true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    std::string message;
    EXPECT_EQ(kind_of([&] { store::SqlStore s(row.path, {.create = row.create, .migrate = true}); }, &message),
              StoreErrorKind::unavailable);
    EXPECT_NE(message.find(row.path), std::string::npos) << message;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("missing.db")));
}

TEST(SqliteErrors, AGarbageFileIsCorrupt) {
  TempDir dir;
  const std::string path = dir.file("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>('A' + i % 26));
  }
  std::string message;
  EXPECT_EQ(kind_of([&] { store::SqlStore s(path); }, &message), StoreErrorKind::corrupt);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(kind_of([&] { store::PolicyAdmin a(path, {.migrate = true}); }), StoreErrorKind::corrupt);
}

// Runs `f` in a child process as the unprivileged user "nobody" when we are root (root
// ignores file modes); returns the StoreErrorKind it saw as an exit status, 100 for none.
int in_child_as_nobody(const std::function<void()>& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(101);
    try {
      f();
    } catch (const StoreError& e) {
      _exit(static_cast<int>(e.kind()));
    } catch (...) {
      _exit(102);
    }
    _exit(100);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(SqliteErrors, AReadOnlyFileIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  { store::PolicyAdmin a(path, {.create = true, .migrate = true}); }
  namespace fs = std::filesystem;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
  EXPECT_EQ(in_child_as_nobody([&] { store::SqlStore s(path); }), static_cast<int>(StoreErrorKind::unavailable));
  EXPECT_EQ(in_child_as_nobody([&] { store::PolicyAdmin a(path); }), static_cast<int>(StoreErrorKind::unavailable));
}

TEST(SqliteErrors, ALockHeldPastTheBusyTimeoutIsBusy) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  store::PolicyAdmin admin(path, {.create = true, .migrate = true});
  ProtectedMailbox m;
  m.address = "agent@example.com";
  const auto mb = admin.add_mailbox(m, kNow, "test");
  admin.add_pair_code(mb, "code", kNow, kNow + 300, {}, "test");
  store::SqlStore s(path, {.busy_timeout = 100ms});

  auto holder = SqliteConnection::open(path, {});
  store::Transaction lock(*holder, store::Transaction::Kind::write);  // another writer, holding on

  std::string message;
  EXPECT_EQ(kind_of([&] { s.record_audit({}); }, &message), StoreErrorKind::busy);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  int effects = 0;
  PairAttempt a;
  a.mailbox_id = mb;
  a.requester = "bob@partner.com";
  a.code = "code";
  a.now = kNow;
  EXPECT_EQ(kind_of([&] { s.redeem_pair_code(a, [&](const PairCheck&) { ++effects; return PairEffects{}; }); }),
            StoreErrorKind::busy);
  EXPECT_EQ(effects, 0);
  // WAL: readers are not blocked by the writer.
  EXPECT_TRUE(s.find_mailbox("agent@example.com"));
  lock.commit();
  EXPECT_EQ(s.redeem_pair_code(a, [&](const PairCheck&) { ++effects; return PairEffects{}; }).check.outcome,
            PairOutcome::completed);
}

TEST(SqliteErrors, AFullDatabaseIsFull) {
  TempDir dir;
  auto conn = SqliteConnection::open(dir.file("p.db"), create());
  store::migrate(*conn);
  auto st = conn->prepare("PRAGMA page_count");
  ASSERT_TRUE(st.step());
  const auto pages = st.int64(0);
  st.run();
  conn->exec(fmt::format("PRAGMA max_page_count = {}", pages + 2), "test");
  AuditRecord big;
  big.reason = std::string(2000, 'x');
  EXPECT_EQ(kind_of([&] {
              for (int i = 0; i < 100; ++i) store::insert_audit(*conn, big);
            }),
            StoreErrorKind::full);
}

TEST(SqliteErrors, AnExceptionInsideATransactionRollsBack) {
  TempDir dir;
  store::PolicyAdmin admin(dir.file("p.db"), {.create = true, .migrate = true});
  auto conn = SqliteConnection::open(dir.file("p.db"), {});
  try {
    store::Transaction tx(*conn, store::Transaction::Kind::write);
    store::insert_audit(*conn, {});
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(admin.audit().empty());
  {
    store::Transaction tx(*conn, store::Transaction::Kind::write);
    store::insert_audit(*conn, {});
    tx.commit();
  }
  EXPECT_EQ(admin.audit().size(), 1u);
}

TEST(ConnectionPool, WaitsAtMostTheBusyTimeoutForAConnection) {
  TempDir dir;
  { store::PolicyAdmin a(dir.file("p.db"), {.create = true, .migrate = true}); }
  ConnectionOptions o;
  o.busy_timeout = 50ms;
  store::ConnectionPool pool(dir.file("p.db"), o, 1);
  auto held = pool.acquire();
  EXPECT_EQ(kind_of([&] { pool.acquire(); }), StoreErrorKind::busy);
  { auto moved = std::move(held); }
  EXPECT_NO_THROW(pool.acquire());
}

// --- concurrency -----------------------------------------------------------------------

struct RaceDb {
  TempDir dir;
  std::string path = dir.file("race.db");
  std::int64_t mailbox = 0;
  std::vector<std::string> codes;

  explicit RaceDb(int code_count) {
    store::PolicyAdmin admin(path, {.create = true, .migrate = true});
    ProtectedMailbox m;
    m.address = "agent@example.com";
    mailbox = admin.add_mailbox(m, kNow, "test");
    for (int i = 0; i < code_count; ++i) {
      codes.push_back("race-code-" + std::to_string(i));
      admin.add_pair_code(mailbox, codes.back(), kNow, kNow + 300, {}, "test");
    }
  }
};

PairOutcome try_code(store::SqlStore& s, std::int64_t mailbox, const std::string& code, const std::string& who) {
  PairAttempt a;
  a.mailbox_id = mailbox;
  a.requester = who;
  a.code = code;
  a.now = kNow;
  a.limits.max_failures = 1'000'000;
  return s.redeem_pair_code(a, [&](const PairCheck&) {
            PairEffects fx;
            fx.audit.at = kNow;
            fx.audit.verdict = AuditVerdict::pair_rejected;
            return fx;
          })
      .check.outcome;
}

TEST(Concurrency, EightThreadsRaceForOneCodeAndOneWins) {
  RaceDb db(1);
  store::SqlStore s(db.path, {.max_connections = 8});
  std::atomic<bool> go{false};
  std::vector<PairOutcome> outcomes(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      outcomes[static_cast<std::size_t>(t)] = try_code(s, db.mailbox, db.codes[0], "t" + std::to_string(t) + "@x.com");
    });
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), PairOutcome::completed), 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), PairOutcome::already_used), 7);
  store::PolicyAdmin admin(db.path);
  EXPECT_EQ(admin.list_rules().size(), 1u);
  EXPECT_EQ(admin.audit().size(), 8u);
}

// A child process with a pipe to its stdin and one from its stdout.
struct Child {
  pid_t pid = -1;
  int to = -1;    // its stdin
  int from = -1;  // its stdout

  explicit Child(const std::vector<std::string>& argv) {
    int in[2];
    int out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid = fork();
    if (pid == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to = in[1];
    from = out[0];
  }
  ~Child() {
    if (to >= 0) close(to);
    if (from >= 0) close(from);
    if (pid > 0) waitpid(pid, nullptr, 0);
  }
  // Reads one line (without the newline).
  std::string line() {
    std::string out;
    char c;
    while (read(from, &c, 1) == 1 && c != '\n') out.push_back(c);
    return out;
  }
  void signal() {
    const char nl = '\n';
    ASSERT_EQ(write(to, &nl, 1), 1);
  }
  void finish() {
    close(to);
    to = -1;
  }
  int wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
};

// Per code, one round: the helper's three threads and three of ours start on the same
// code at the same moment (the helper is released through its stdin as ours start).
TEST(Concurrency, ThreadsAndASecondProcessRaceForTheSameCodesAndOneWinsEach) {
  constexpr int kCodes = 20;
  constexpr int kThreads = 3;
  RaceDb db(kCodes);
  std::vector<std::string> argv = {AAMP_RACE_HELPER, db.path, std::to_string(db.mailbox), "other@x.com",
                                   std::to_string(kThreads), std::to_string(kNow)};
  argv.insert(argv.end(), db.codes.begin(), db.codes.end());
  Child helper(argv);
  ASSERT_EQ(helper.line(), "ready");

  store::SqlStore s(db.path, {.max_connections = kThreads});
  int helper_wins = 0;
  int our_wins = 0;
  for (const auto& code : db.codes) {
    SCOPED_TRACE(code);
    std::vector<PairOutcome> ours(kThreads);
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        ours[static_cast<std::size_t>(t)] = try_code(s, db.mailbox, code, "this@x.com");
      });
    helper.signal();
    go = true;
    for (auto& t : threads) t.join();
    std::vector<std::string> theirs;
    for (std::string l = helper.line(); l != "done"; l = helper.line()) {
      ASSERT_FALSE(l.empty()) << "the helper stopped";
      ASSERT_EQ(l.substr(0, code.size() + 1), code + " ");
      theirs.push_back(l.substr(code.size() + 1));
    }
    ASSERT_EQ(theirs.size(), static_cast<std::size_t>(kThreads));
    const auto mine = std::count(ours.begin(), ours.end(), PairOutcome::completed);
    const auto other = std::count(theirs.begin(), theirs.end(), "completed");
    EXPECT_EQ(mine + other, 1);
    EXPECT_EQ(std::count(ours.begin(), ours.end(), PairOutcome::already_used) +
                  std::count(theirs.begin(), theirs.end(), "already-used"),
              2 * kThreads - 1);
    our_wins += static_cast<int>(mine);
    helper_wins += static_cast<int>(other);
  }
  helper.finish();
  ASSERT_EQ(helper.wait(), 0);
  store::PolicyAdmin admin(db.path);
  EXPECT_EQ(admin.audit().size(), static_cast<std::size_t>(kCodes * 2 * kThreads));
  std::size_t rules = 0;
  for (const auto& r : admin.list_rules()) rules += r.rule.origin == RuleOrigin::paired ? 1 : 0;
  EXPECT_EQ(rules, static_cast<std::size_t>((our_wins > 0 ? 1 : 0) + (helper_wins > 0 ? 1 : 0)));
  RecordProperty("our_wins", our_wins);
  RecordProperty("helper_wins", helper_wins);
}

TEST(Concurrency, WritersFromManyThreadsAndAnAdminNeverSeeBusy) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  store::PolicyAdmin admin(path, {.create = true, .migrate = true});
  store::SqlStore s(path, {.max_connections = 2});  // fewer connections than threads
  constexpr int kThreads = 6;
  constexpr int kRows = 150;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRows; ++i) {
        try {
          AuditRecord a;
          a.at = kNow + i;
          a.message_id = fmt::format("t{}-{}", t, i);
          s.record_audit(a);
          s.find_mailbox("agent" + std::to_string(i % 10) + "@example.com");
        } catch (const StoreError&) {
          ++errors;
        }
      }
    });
  // Meanwhile an operator adds mailboxes, each in its own write transaction.
  for (int i = 0; i < 30; ++i) {
    ProtectedMailbox m;
    m.address = "agent" + std::to_string(i) + "@example.com";
    admin.add_mailbox(m, kNow, "ops");
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(admin.audit().size(), static_cast<std::size_t>(kThreads * kRows));
  EXPECT_EQ(admin.list_mailboxes().size(), 30u);
}

TEST(SqlStore, StoresOnlyTheHashOfACode) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  store::PolicyAdmin admin(path, {.create = true, .migrate = true});
  ProtectedMailbox m;
  m.address = "agent@example.com";
  admin.add_pair_code(admin.add_mailbox(m, kNow, "t"), "Sup3rSecretCode", kNow, kNow + 60, {}, "t");
  // Nothing in the file (nor its WAL) contains the code.
  for (const auto& f : {path, path + "-wal"}) {
    const std::string bytes = read_file(f);
    EXPECT_EQ(bytes.find("Sup3rSecretCode"), std::string::npos) << f;
  }
  const auto codes = admin.list_pair_codes();
  ASSERT_EQ(codes.size(), 1u);
  EXPECT_EQ(codes[0].state(kNow), store::PairCodeState::live);
  EXPECT_EQ(codes[0].state(kNow + 60), store::PairCodeState::expired);
}

TEST(SqlStore, AuditKeepsTheRuleItNamedAfterTheRuleIsGone) {
  TempDir dir;
  const std::string path = dir.file("p.db");
  store::PolicyAdmin admin(path, {.create = true, .migrate = true});
  ProtectedMailbox m;
  m.address = "agent@example.com";
  admin.add_mailbox(m, kNow, "t");
  const auto rule = admin.allow_sender("agent@example.com", "@partner.com", {}, kNow, "t");
  store::SqlStore s(path);
  AuditRecord a;
  a.verdict = AuditVerdict::allow;
  a.rule_id = rule.rule.id;
  s.record_audit(a);
  admin.remove_rule(rule.rule.id);
  admin.remove_mailbox("agent@example.com");
  // A new rule never gets the old id.
  admin.add_mailbox(m, kNow, "t");
  const auto again = admin.allow_sender("agent@example.com", "@partner.com", {}, kNow, "t");
  EXPECT_GT(again.rule.id, rule.rule.id);
  const auto rows = admin.audit();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].record.rule_id, rule.rule.id);
  EXPECT_EQ(rows[0].rule_pattern, std::optional<std::string>("@partner.com"));
  EXPECT_EQ(rows[0].rule_origin, std::optional<std::string>("configured"));
}

}  // namespace
}  // namespace aamp::test
