// sqlite.hpp — a thin RAII layer over the SQLite C API for the store: owned handles,
// one Connection with its own prepared-statement cache, statements that reset themselves,
// transactions that roll back unless committed, and every SQLite error turned into a
// StoreError of the right kind that names the database file. Nothing policy-specific here.
// Threading: a Connection (and its statements) is used by one thread at a time; the pool
// in sqlite_store.cpp hands connections out.
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

struct ConnectionOptions {
  bool create = false;  // create the file when it does not exist (aampctl init)
  // How long a statement waits for another writer (thread, process, aampctl) before
  // SQLITE_BUSY surfaces as StoreError(busy).
  std::chrono::milliseconds busy_timeout{5000};
};

class Connection;

// A cached prepared statement in use. Binds are 1-based like SQLite's; columns 0-based.
// The destructor resets it and clears its bindings, so the cache can hand it out again.
class Statement {
 public:
  Statement(Connection& conn, sqlite3_stmt* st) noexcept : conn_(&conn), st_(st) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  Statement& bind(int index, std::nullptr_t);

  // True when a row is ready; false when done. Errors throw StoreError.
  bool step();
  // Steps to completion; for statements that return no rows.
  void run();

  std::int64_t int64(int column) const;
  std::string text(int column) const;
  std::optional<std::int64_t> maybe_int64(int column) const;
  std::optional<std::string> maybe_text(int column) const;
  bool is_null(int column) const;

 private:
  Connection* conn_;
  sqlite3_stmt* st_;
};

class Connection {
 public:
  // Opens (and with options.create creates) the file and configures the connection:
  // busy timeout, foreign_keys=ON, journal_mode=WAL, synchronous=NORMAL (docs/decisions.md).
  static std::unique_ptr<Connection> open(const std::string& path, const ConnectionOptions& options);

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The statement for `sql`, prepared once per connection and cached by its text.
  Statement prepare(std::string_view sql);
  // Runs a script of several statements (migrations), not cached.
  void exec(const std::string& sql, std::string_view doing);

  std::int64_t last_insert_rowid() const noexcept { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const noexcept { return sqlite3_changes(db_.get()); }
  const std::string& path() const noexcept { return path_; }
  sqlite3* handle() const noexcept { return db_.get(); }
  [[noreturn]] void fail(int rc, std::string_view doing) const { throw_sqlite(rc, path_, doing, db_.get()); }

 private:
  Connection(DatabaseHandle db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

  DatabaseHandle db_;
  std::string path_;
  // Keyed by the SQL text; looked up by string_view without building a std::string.
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, StatementHandle, TextHash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE (write: takes the write lock at once, so it never fails half-way with
// SQLITE_BUSY_SNAPSHOT) or BEGIN (read). Rolls back in its noexcept destructor unless
// committed.
class Transaction {
 public:
  enum class Kind {
    read,   // BEGIN DEFERRED: a consistent snapshot of several reads
    write,  // BEGIN IMMEDIATE: the write lock now, waiting up to the busy timeout
  };
  Transaction(Connection& conn, Kind kind);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& conn_;
  bool open_ = true;
};

}  // namespace aamp::store
