// migrate.hpp — brings a database to the schema this program knows (schema/DIALECT/NNNN_*.sql,
// compiled in) and checks that it is there. Each migration runs in its own write
// transaction together with the new version number (SQLite's PRAGMA user_version, a table
// on PostgreSQL), so a failed migration leaves the previous version intact and two
// processes migrating at once apply each step once. Only aampctl migrates: the daemon
// requires the schema it needs. Threading: uses the one Connection it is given.
#pragma once

#include <vector>

#include "store/migrations.hpp"
#include "store/sql.hpp"

namespace aamp::store {

struct MigrationResult {
  int from = 0;  // user_version before
  int to = 0;    // user_version after
};

// The migrations of a dialect, in ascending version order.
const std::vector<Migration>& migrations_for(Dialect dialect) noexcept;

// The recorded schema version: 0 for a new, empty database.
int schema_version(Connection& conn);
// The version the given migrations lead to (the last one's), 0 when there are none.
int latest_version(const std::vector<Migration>& migrations = kSqliteMigrations) noexcept;

// Applies every migration newer than the database's version, in order. StoreError(schema)
// when the database is newer than `migrations` know, or when `migrations` are not
// numbered 1, 2, 3, ... .
MigrationResult migrate(Connection& conn, const std::vector<Migration>& migrations);
// ... with the migrations of the connection's dialect.
MigrationResult migrate(Connection& conn);

// StoreError(schema) unless the database is at latest_version(migrations), or newer by
// additive migrations only (its schema_compat row names a min_reader this program
// meets: a rolling upgrade, docs/multi-mx.md): older ("run aampctl migrate"; "run
// aampctl init" when empty) or newer ("upgrade").
void require_current(Connection& conn, const std::vector<Migration>& migrations);
void require_current(Connection& conn);

}  // namespace aamp::store
