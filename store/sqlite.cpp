// sqlite.cpp — see sqlite.hpp.
#include "store/sqlite.hpp"

#include <fmt/format.h>

namespace aamp::store {

StoreErrorKind error_kind(int rc) noexcept {
  switch (rc & 0xff) {  // the primary result code of an extended one
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreErrorKind::busy;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return StoreErrorKind::unavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StoreErrorKind::corrupt;
    case SQLITE_FULL:
      return StoreErrorKind::full;
    default:
      return StoreErrorKind::io;
  }
}

void throw_sqlite(int rc, const std::string& path, std::string_view doing, sqlite3* db) {
  // sqlite3_errmsg describes the last error of `db`, which is `rc` when we are called
  // right after the failing call; errstr is the generic text for the code.
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string hint;
  switch (error_kind(rc)) {
    case StoreErrorKind::busy: hint = " (another writer held the database longer than the busy timeout)"; break;
    case StoreErrorKind::unavailable: hint = " (check that the file and its directory exist and are writable)"; break;
    case StoreErrorKind::corrupt: hint = " (the file is not an intact aamp-milter database)"; break;
    case StoreErrorKind::full: hint = " (the disk or quota is full)"; break;
    default: break;
  }
  throw StoreError(error_kind(rc), fmt::format("{}: {}: {}{}", path, doing, detail, hint));
}

// --- Statement ---------------------------------------------------------------------------

namespace {

class SqliteStatement final : public StatementImpl {
 public:
  SqliteStatement(SqliteConnection& conn, StatementHandle st) noexcept : conn_(conn), st_(std::move(st)) {}

  void bind_int64(int index, std::int64_t value) override {
    if (const int rc = sqlite3_bind_int64(st_.get(), index, value); rc != SQLITE_OK) conn_.fail(rc, "bind");
  }
  void bind_text(int index, std::string_view value) override {
    // SQLITE_TRANSIENT: SQLite copies, so a temporary argument cannot dangle before step().
    const int rc = sqlite3_bind_text64(st_.get(), index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) conn_.fail(rc, "bind");
  }
  void bind_null(int index) override {
    if (const int rc = sqlite3_bind_null(st_.get(), index); rc != SQLITE_OK) conn_.fail(rc, "bind");
  }

  bool step() override {
    const int rc = sqlite3_step(st_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const char* sql = sqlite3_sql(st_.get());
    std::string_view what = sql != nullptr ? std::string_view(sql) : std::string_view("statement");
    // cppcheck-suppress missingReturn ; fail is [[noreturn]] (it always throws)
    if (what.size() > 60) what = what.substr(0, 60);
    conn_.fail(rc, fmt::format("executing \"{}\"", what));
  }

  std::int64_t int64(int column) const override { return sqlite3_column_int64(st_.get(), column); }
  std::string text(int column) const override {
    const auto* p = sqlite3_column_text(st_.get(), column);
    const int n = sqlite3_column_bytes(st_.get(), column);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  bool is_null(int column) const override { return sqlite3_column_type(st_.get(), column) == SQLITE_NULL; }

  void reset() noexcept override {
    sqlite3_reset(st_.get());
    sqlite3_clear_bindings(st_.get());
  }

 private:
  SqliteConnection& conn_;
  StatementHandle st_;
};

}  // namespace

// --- Connection --------------------------------------------------------------------------

std::unique_ptr<SqliteConnection> SqliteConnection::open(const std::string& path, const ConnectionOptions& options) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;  // one thread at a time per connection
  if (options.create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DatabaseHandle db(raw);  // owned even when the open failed (sqlite3_open_v2 may still allocate)
  if (rc != SQLITE_OK) {
    if (!options.create && (rc & 0xff) == SQLITE_CANTOPEN)
      throw StoreError(StoreErrorKind::unavailable,
                       fmt::format("{}: cannot open the database: {} (does it exist? create it with `aampctl init`)",
                                   path, raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    throw_sqlite(rc, path, "opening the database", db.get());
  }
  // A write-protected file opens read-only without an error; we always need to write.
  if (sqlite3_db_readonly(db.get(), "main") == 1)
    throw StoreError(StoreErrorKind::unavailable,
                     fmt::format("{}: the database is read-only for this user (check the file's permissions)", path));
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(std::move(db), path));
  // WAL: readers never block the writer and the writer never blocks readers, which is
  // what many milter threads beside aampctl need. synchronous=NORMAL is durable across
  // process crashes and never corrupts; a power loss may forget the last transactions
  // whole (docs/decisions.md). journal_mode needs the file's header: the first read,
  // so a file that is not a database fails here as corrupt.
  conn->exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", "configuring the connection");
  {
    auto st = conn->prepare("PRAGMA journal_mode = WAL");
    if (!st.step() || st.text(0) != "wal")
      throw StoreError(StoreErrorKind::io, fmt::format("{}: cannot switch the database to WAL mode", path));
  }
  return conn;
}

std::unique_ptr<Connection> open_sqlite_connection(const std::string& path, const ConnectionOptions& options) {
  return SqliteConnection::open(path, options);
}

SqliteConnection::~SqliteConnection() { cache_.clear(); }  // statements before the handle

StatementImpl& SqliteConnection::prepare_cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                      &raw, nullptr);
    StatementHandle st(raw);
    if (rc != SQLITE_OK) fail(rc, fmt::format("preparing \"{}\"", sql.substr(0, 60)));
    it = cache_.emplace(std::string(sql), std::make_unique<SqliteStatement>(*this, std::move(st))).first;
  }
  return *it->second;
}

void SqliteConnection::exec(const std::string& sql, std::string_view doing) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err);
  std::unique_ptr<char, decltype(&sqlite3_free)> owned(err, &sqlite3_free);
  if (rc != SQLITE_OK) fail(rc, doing);
}

// --- Transactions and the schema version -------------------------------------------------

// BEGIN IMMEDIATE for a write: the write lock at once, so a transaction never fails half-way
// with SQLITE_BUSY_SNAPSHOT; BEGIN (deferred) for a read snapshot.
void SqliteConnection::begin(TransactionKind kind) {
  prepare(kind == TransactionKind::write ? "BEGIN IMMEDIATE" : "BEGIN").run();
}

void SqliteConnection::commit() { prepare("COMMIT").run(); }

void SqliteConnection::rollback() noexcept {
  // Never throws: a failed rollback leaves SQLite to roll back when the connection next
  // starts a transaction or closes.
  sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

int SqliteConnection::schema_version() {
  auto st = prepare("PRAGMA user_version");
  if (!st.step()) throw StoreError(StoreErrorKind::io, path_ + ": PRAGMA user_version returned nothing");
  return static_cast<int>(st.int64(0));
}

void SqliteConnection::set_schema_version(int version) {
  exec(fmt::format("PRAGMA user_version = {}", version), "recording the schema version");
}

}  // namespace aamp::store
