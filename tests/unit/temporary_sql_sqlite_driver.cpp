// temporary_sql_sqlite_driver.cpp — TEMPORARY, branch cache only: a bare SQLite driver
// behind store/sql.hpp (open_connection, ConnectionPool, dialect_of, display_database) so
// that sql_policy_source_test can run store/sql_policy_source.cpp before the real drivers
// (store/sqlite.*, store/pg.*, store/sql.cpp) land. Linked into that one test only; it
// must never meet store/sqlite.cpp or store/sqlite_store.cpp in a program (their classes
// share names with sql.hpp's today). DELETE THIS FILE at the merge, with its lines in
// tests/CMakeLists.txt: the real sql.cpp defines the same functions.
#include <sqlite3.h>

#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "store/sql.hpp"

namespace aamp::store {

namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& path, std::string_view doing) {
  throw StoreError(StoreErrorKind::io, fmt::format("{}: {}: {}", path, doing, db ? sqlite3_errmsg(db) : "?"));
}

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* st, const std::string& path) : db_(db), st_(st), path_(path) {}
  ~SqliteStatement() override { sqlite3_finalize(st_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind_int64(int index, std::int64_t value) override { check(sqlite3_bind_int64(st_, index, value)); }
  void bind_text(int index, std::string_view value) override {
    check(sqlite3_bind_text(st_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int index) override { check(sqlite3_bind_null(st_, index)); }
  bool step() override {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, path_, "step");
  }
  std::int64_t int64(int column) const override { return sqlite3_column_int64(st_, column); }
  std::string text(int column) const override {
    const auto* p = sqlite3_column_text(st_, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st_, column)))
             : std::string();
  }
  bool is_null(int column) const override { return sqlite3_column_type(st_, column) == SQLITE_NULL; }
  void reset() noexcept override {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) fail(db_, path_, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* st_;
  const std::string& path_;
};

class SqliteConnection final : public Connection {
 public:
  SqliteConnection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteConnection() override {
    cache_.clear();
    sqlite3_close_v2(db_);
  }

  void exec(const std::string& sql, std::string_view doing) override {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(db_, path_, doing);
  }
  std::int64_t changes() const noexcept override { return sqlite3_changes(db_); }
  const std::string& path() const noexcept override { return path_; }
  Dialect dialect() const noexcept override { return Dialect::sqlite; }
  void begin(TransactionKind kind) override { exec(kind == TransactionKind::write ? "BEGIN IMMEDIATE" : "BEGIN", "begin"); }
  void commit() override { exec("COMMIT", "commit"); }
  void rollback() noexcept override { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }
  int schema_version() override {
    auto st = prepare("PRAGMA user_version");
    return st.step() ? static_cast<int>(st.int64(0)) : 0;
  }
  void set_schema_version(int version) override { exec(fmt::format("PRAGMA user_version = {}", version), "version"); }
  void lock_key(std::string_view) override {}

 protected:
  StatementImpl& prepare_cached(std::string_view sql) override {
    const std::string key(sql);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st, nullptr) !=
          SQLITE_OK)
        fail(db_, path_, "prepare");
      it = cache_.emplace(key, std::make_unique<SqliteStatement>(db_, st, path_)).first;
    }
    return *it->second;
  }

 private:
  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> cache_;
};

}  // namespace

std::unique_ptr<Connection> open_connection(const std::string& database, const ConnectionOptions& options) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (options.create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(database.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    sqlite3_close_v2(db);
    throw StoreError(StoreErrorKind::unavailable, database + ": cannot open");
  }
  auto conn = std::make_unique<SqliteConnection>(db, database);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
  conn->exec("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL", "configure");
  return conn;
}

Dialect dialect_of(std::string_view) noexcept { return Dialect::sqlite; }

std::string display_database(std::string_view database) { return std::string(database); }

ConnectionPool::ConnectionPool(std::string database, ConnectionOptions options, int max)
    : database_(std::move(database)), display_(display_database(database_)), options_(options), max_(std::max(1, max)) {}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

ConnectionPool::Lease ConnectionPool::acquire() {
  {
    std::unique_lock lock(mu_);
    if (!freed_.wait_for(lock, options_.busy_timeout, [&] { return !idle_.empty() || open_ < max_; }))
      throw StoreError(StoreErrorKind::busy, display_ + ": no free connection");
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    ++open_;
  }
  return Lease(*this, open_connection(database_, options_));
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) noexcept {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(conn));
  }
  freed_.notify_one();
}

}  // namespace aamp::store
