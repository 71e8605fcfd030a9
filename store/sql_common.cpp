// sql_common.cpp — the engine-independent parts of store/sql.hpp and database_name.hpp:
// which engine a database string names, how it is shown, opening a connection, and the
// connection pool.
#include <algorithm>

#include <fmt/format.h>

#include "store/pg.hpp"
#include "store/sql.hpp"
#include "store/sqlite.hpp"

namespace aamp::store {

Dialect dialect_of(std::string_view database) noexcept {
  if (database.starts_with("postgresql://") || database.starts_with("postgres://")) return Dialect::postgresql;
  // libpq's keyword form starts with a keyword and '='; a path rarely does.
  for (std::string_view key : {"host=", "hostaddr=", "dbname=", "user=", "service=", "port=", "passfile="})
    if (database.starts_with(key)) return Dialect::postgresql;
  return Dialect::sqlite;
}

std::string display_database(std::string_view database) {
  if (dialect_of(database) == Dialect::sqlite) return std::string(database);
  return std::string(database);  // the PostgreSQL driver's helper replaces this
}

std::unique_ptr<Connection> open_connection(const std::string& database, const ConnectionOptions& options) {
  if (dialect_of(database) == Dialect::postgresql) return open_pg_connection(database, options);
  return open_sqlite_connection(database, options);
}

// --- ConnectionPool ----------------------------------------------------------------------

ConnectionPool::ConnectionPool(std::string database, ConnectionOptions options, int max)
    : database_(std::move(database)), display_(display_database(database_)), options_(options),
      max_(std::max(1, max)) {}

ConnectionPool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

ConnectionPool::Lease ConnectionPool::acquire() {
  {
    std::unique_lock lock(mu_);
    const bool ready = freed_.wait_for(lock, options_.busy_timeout, [&] { return !idle_.empty() || open_ < max_; });
    if (!ready)
      throw StoreError(StoreErrorKind::busy,
                       fmt::format("{}: no free database connection within {} ms ({} in use)", display_,
                                   options_.busy_timeout.count(), max_));
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
    ++open_;  // reserve the slot; open outside the lock
  }
  try {
    return Lease(*this, open_connection(database_, options_));
  } catch (...) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
    throw;
  }
}

void ConnectionPool::give_back(std::unique_ptr<Connection> conn) noexcept {
  {
    std::lock_guard lock(mu_);
    if (conn->usable()) idle_.push_back(std::move(conn));
    else --open_;  // broken (the server went away): the next acquire opens a new one
  }
  freed_.notify_one();
}

}  // namespace aamp::store
