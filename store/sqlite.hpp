// sqlite.hpp — the SQLite driver behind store/sql.hpp: a thin RAII layer over the SQLite C
// API with owned handles, one prepared-statement cache per connection, and every SQLite
// error turned into a StoreError of the right kind that names the database file. Nothing
// policy-specific here.
// Threading: a connection (and its statements) is used by one thread at a time; a
// ConnectionPool hands connections out.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "policy/store.hpp"
#include "store/sql.hpp"

namespace aamp::store {

struct CloseDatabase {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct FinalizeStatement {
  void operator()(sqlite3_stmt* st) const noexcept { sqlite3_finalize(st); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, CloseDatabase>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// SQLITE_BUSY/LOCKED -> busy; CANTOPEN/PERM/READONLY/AUTH -> unavailable;
// CORRUPT/NOTADB -> corrupt; FULL -> full; anything else -> io.
StoreErrorKind error_kind(int rc) noexcept;

// Throws StoreError(error_kind(rc)) "PATH: DOING: sqlite's message".
[[noreturn]] void throw_sqlite(int rc, const std::string& path, std::string_view doing, sqlite3* db = nullptr);

// The SQLite driver of store/sql.hpp: one sqlite3 handle per connection, in WAL mode with
// foreign keys on (docs/decisions.md).
class SqliteConnection final : public Connection {
 public:
  // Opens (and with options.create creates) the file and configures the connection:
  // busy timeout, foreign_keys=ON, journal_mode=WAL, synchronous=NORMAL.
  static std::unique_ptr<SqliteConnection> open(const std::string& path, const ConnectionOptions& options);
  ~SqliteConnection() override;

  void exec(const std::string& sql, std::string_view doing) override;
  std::int64_t changes() const noexcept override { return sqlite3_changes(db_.get()); }
  const std::string& path() const noexcept override { return path_; }
  Dialect dialect() const noexcept override { return Dialect::sqlite; }
  void begin(TransactionKind kind) override;
  void commit() override;
  void rollback() noexcept override;
  int schema_version() override;  // PRAGMA user_version
  void set_schema_version(int version) override;
  void lock_key(std::string_view /*key*/) override {}  // BEGIN IMMEDIATE excludes every other writer

  sqlite3* handle() const noexcept { return db_.get(); }
  [[noreturn]] void fail(int rc, std::string_view doing) const { throw_sqlite(rc, path_, doing, db_.get()); }

 protected:
  StatementImpl& prepare_cached(std::string_view sql) override;

 private:
  SqliteConnection(DatabaseHandle db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

  DatabaseHandle db_;
  std::string path_;
  // Keyed by the SQL text; looked up by string_view without building a std::string.
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::unique_ptr<StatementImpl>, TextHash, std::equal_to<>> cache_;
};

// What open_connection() calls for a path.
std::unique_ptr<Connection> open_sqlite_connection(const std::string& path, const ConnectionOptions& options);

}  // namespace aamp::store
