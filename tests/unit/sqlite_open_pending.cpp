// sqlite_open_pending.cpp — TEMPORARY (branch pg): stands in for the SQLite driver's
// open_sqlite_connection until store/sqlite.cpp is on store/sql.hpp; delete on merge.
#include "store/sql.hpp"

namespace aamp::store {

std::unique_ptr<Connection> open_sqlite_connection(const std::string& path, const ConnectionOptions&) {
  throw StoreError(StoreErrorKind::unavailable, path + ": the SQLite driver is not on sql.hpp in this build");
}

}  // namespace aamp::store
