// pg.hpp — the PostgreSQL driver behind store/sql.hpp, over libpq: one PGconn per
// Connection, statements prepared once per connection (PQprepare, named aamp_1, aamp_2, ...
// in order) with ?N rewritten to $N, parameters sent as text, results read whole. Errors
// become StoreError by SQLSTATE and connection state: a connection that is gone (server
// stopped, backend terminated, network) -> unavailable, and the Connection reports
// usable() == false so the pool drops it; lock_timeout / serialization failure /
// deadlock -> busy; disk full -> full; anything else -> io. Messages name the database by
// display_database(): a password never reaches a message.
// Threading: as for every Connection, one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/sql.hpp"

namespace aamp::store {

// Connects to `conninfo` (a postgresql:// URL or libpq's keyword form; multi-host lists and
// target_session_attrs=read-write work as libpq documents). Sets lock_timeout to
// options.busy_timeout and connect_timeout to about the same (whole seconds, at least 1)
// unless the connection string sets it. Throws StoreError(unavailable) when it cannot.
std::unique_ptr<Connection> open_pg_connection(const std::string& conninfo, const ConnectionOptions& options);

// The StoreError kind for a server error's SQLSTATE (empty when libpq reported none), or
// unavailable whenever the connection is gone: class 08, 57P01-57P04, 28xxx, 3D000, 53300
// -> unavailable; 55P03, 40001, 40P01, 57014 -> busy; 53100 -> full; else io.
StoreErrorKind pg_error_kind(std::string_view sqlstate, bool connection_lost) noexcept;

// `sql` with its ?N placeholders as PostgreSQL's $N (not inside '...' literals, "..."
// identifiers or -- comments), and the highest N it uses.
struct PgSql {
  std::string text;
  int params = 0;
};
PgSql pg_placeholders(std::string_view sql);

}  // namespace aamp::store
