// sql.hpp — the SQL database as the store sees it, whichever engine keeps it: a Connection
// with its own prepared-statement cache, statements that reset themselves when they go,
// transactions that roll back unless committed, every engine error a StoreError of the
// right kind that names the database (never a password). The store, the admin and the
// migrations are written once against this; store/sqlite.* and store/pg.* are the drivers.
//
// SQL text uses ?1, ?2, ... placeholders (SQLite's; the PostgreSQL driver sends them as
// $1, $2, ...) and the dialect both engines share: INSERT ... RETURNING, ON CONFLICT ...
// DO UPDATE, no engine-specific functions. What does differ is a Connection method.
// Threading: a Connection (and its statements) is used by one thread at a time; a
// ConnectionPool hands them out.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "policy/names.hpp"
#include "policy/store.hpp"
#include "store/database_name.hpp"

namespace aamp::store {

struct ConnectionOptions {
  bool create = false;  // SQLite: create the file when it does not exist (aampctl init)
  // How long a statement waits for a lock another writer holds (SQLite's busy timeout,
  // PostgreSQL's lock_timeout), and for PostgreSQL also how long connecting may take,
  // before StoreError(busy) or (unavailable).
  std::chrono::milliseconds busy_timeout{5000};
};

// What a driver implements for one prepared statement. Binds 1-based, columns 0-based.
class StatementImpl {
 public:
  virtual ~StatementImpl() = default;
  virtual void bind_int64(int index, std::int64_t value) = 0;
  virtual void bind_text(int index, std::string_view value) = 0;  // copied at once
  virtual void bind_null(int index) = 0;
  virtual bool step() = 0;  // true: a row is ready; false: done. Errors throw StoreError.
  virtual std::int64_t int64(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual bool is_null(int column) const = 0;
  virtual void reset() noexcept = 0;  // bindings and results cleared, ready to run again
};

// A cached prepared statement in use; resets itself when it goes.
class Statement {
 public:
  explicit Statement(StatementImpl& impl) noexcept : impl_(&impl) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { impl_->reset(); }

  Statement& bind(int index, std::int64_t value) { return impl_->bind_int64(index, value), *this; }
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, std::string_view value) { return impl_->bind_text(index, value), *this; }
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const std::optional<std::int64_t>& value) {
    return value ? bind(index, *value) : bind(index, nullptr);
  }
  Statement& bind(int index, std::nullptr_t) { return impl_->bind_null(index), *this; }

  bool step() { return impl_->step(); }
  // Steps to completion; for statements that return no rows.
  void run() {
    while (step()) {
    }
  }

  std::int64_t int64(int column) const { return impl_->int64(column); }
  std::string text(int column) const { return impl_->text(column); }
  bool is_null(int column) const { return impl_->is_null(column); }
  std::optional<std::int64_t> maybe_int64(int column) const {
    return is_null(column) ? std::nullopt : std::optional(int64(column));
  }
  std::optional<std::string> maybe_text(int column) const {
    return is_null(column) ? std::nullopt : std::optional(text(column));
  }

 private:
  StatementImpl* impl_;
};

// A write to run later, with its values bound (Connection::write_all): what a group commit
// collects from several callers before it writes them together.
class Write {
 public:
  using Value = std::variant<std::nullptr_t, std::int64_t, std::string>;

  // `sql` must outlive the Write (the store's statements are constants).
  template <typename... Args>
  explicit Write(std::string_view sql, const Args&... values) : sql_(sql), values_{value(values)...} {}

  std::string_view sql() const noexcept { return sql_; }
  const std::vector<Value>& values() const noexcept { return values_; }  // ?1 first

 private:
  static Value value(std::nullptr_t) { return nullptr; }
  static Value value(std::int64_t v) { return v; }
  static Value value(int v) { return static_cast<std::int64_t>(v); }
  static Value value(std::string_view v) { return std::string(v); }
  static Value value(const std::string& v) { return v; }
  static Value value(const char* v) { return std::string(v); }
  static Value value(const std::optional<std::int64_t>& v) { return v ? Value(*v) : Value(nullptr); }

  std::string_view sql_;
  std::vector<Value> values_;
};

// Binds a Write's values to `st`, ?1 first.
void bind_all(Statement& st, const Write& write);

enum class TransactionKind {
  read,   // a consistent snapshot of several reads
  write,  // SQLite: the file's write lock at once (BEGIN IMMEDIATE); PostgreSQL: BEGIN
};

class Connection {
 public:
  virtual ~Connection() = default;
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The statement for `sql`, prepared once per connection and cached by its text.
  Statement prepare(std::string_view sql) { return Statement(prepare_cached(sql)); }
  // Runs one write now (prepared and cached as prepare() does).
  void run(const Write& write);
  // Runs `writes` in order, all or none: one statement alone (atomic by itself), several in
  // one write transaction. On PostgreSQL several travel in one pipeline, one round trip
  // however many there are. Returns nothing: writes whose rows matter are not batched.
  virtual void write_all(const std::vector<Write>& writes);
  // Runs a script of several statements (migrations), not cached.
  virtual void exec(const std::string& sql, std::string_view doing) = 0;
  // Rows changed by the statement that ran last on this connection.
  virtual std::int64_t changes() const noexcept = 0;
  // The database as messages name it: the SQLite file's path, or the PostgreSQL
  // connection string without its password.
  virtual const std::string& path() const noexcept = 0;
  virtual Dialect dialect() const noexcept = 0;

  virtual void begin(TransactionKind kind) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;

  // The schema version recorded in the database: 0 when it holds none (a new database).
  virtual int schema_version() = 0;
  // Records `version`; inside the migration's write transaction.
  virtual void set_schema_version(int version) = 0;
  // Inside a write transaction: waits until no other transaction holds `key`, then holds it
  // until this one ends. What serialises pair attempts on one mailbox or requester across
  // hosts; SQLite's write transaction excludes every other writer already (a no-op there).
  virtual void lock_key(std::string_view key) = 0;
  // False once the connection is broken (the server went away): the pool drops it.
  virtual bool usable() const noexcept { return true; }

 protected:
  virtual StatementImpl& prepare_cached(std::string_view sql) = 0;
};

// Rolls back in its noexcept destructor unless committed.
class Transaction {
 public:
  using Kind = TransactionKind;
  Transaction(Connection& conn, Kind kind) : conn_(conn) { conn_.begin(kind); }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (open_) conn_.rollback();
  }
  void commit() {
    conn_.commit();
    open_ = false;
  }

 private:
  Connection& conn_;
  bool open_ = true;
};

// Opens one connection to `database`: a PostgreSQL connection string
// (postgresql://... or postgres://..., or libpq's keyword form "host=... dbname=...") or
// else a SQLite file's path. Throws StoreError.
std::unique_ptr<Connection> open_connection(const std::string& database, const ConnectionOptions& options);

// Hands out connections to one database, opening up to `max` lazily; a borrowed
// connection returns to the pool when the Lease goes (or is dropped, when it broke).
class ConnectionPool {
 public:
  ConnectionPool(std::string database, ConnectionOptions options, int max);
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Waits up to the busy timeout for a free connection; StoreError(busy) after that.
  Lease acquire();
  // The database as messages name it (display_database).
  const std::string& path() const noexcept { return display_; }
  const std::string& database() const noexcept { return database_; }

 private:
  void give_back(std::unique_ptr<Connection> conn) noexcept;

  const std::string database_;
  const std::string display_;
  const ConnectionOptions options_;
  const int max_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // idle + lent + being opened
};

}  // namespace aamp::store
