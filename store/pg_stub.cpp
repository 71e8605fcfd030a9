// pg_stub.cpp — TEMPORARY until the PostgreSQL driver lands: refuses PostgreSQL databases.
#include "store/pg.hpp"
#include "store/migrations.hpp"

namespace aamp::store {

std::unique_ptr<Connection> open_pg_connection(const std::string& conninfo, const ConnectionOptions&) {
  throw StoreError(StoreErrorKind::unavailable, display_database(conninfo) + ": PostgreSQL support is not built");
}

}  // namespace aamp::store

namespace aamp::store {
const std::vector<Migration> kPgMigrations = {};  // TEMPORARY: the PostgreSQL migrations land with the driver
}  // namespace aamp::store
