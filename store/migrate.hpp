// migrate.hpp — brings a database to the schema this program knows (schema/NNNN_*.sql,
// compiled in as kMigrations) and checks that it is there. Each migration runs in its own
// BEGIN IMMEDIATE transaction together with PRAGMA user_version = NNNN, so a failed
// migration leaves the previous version intact and two processes migrating at once apply
// each step once. Threading: uses the one Connection it is given.
#pragma once

#include <vector>

#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace aamp::store {

struct MigrationResult {
  int from = 0;  // user_version before
  int to = 0;    // user_version after
};

// PRAGMA user_version: 0 for a new, empty database.
int schema_version(Connection& conn);
// The version the given migrations lead to (the last one's), 0 when there are none.
int latest_version(const std::vector<Migration>& migrations = kMigrations) noexcept;

// Applies every migration newer than the database's version, in order. StoreError(schema)
// when the database is newer than `migrations` know, or when `migrations` are not
// numbered 1, 2, 3, ... .
MigrationResult migrate(Connection& conn, const std::vector<Migration>& migrations = kMigrations);

// StoreError(schema) unless the database is exactly at latest_version(migrations): older
// ("run aampctl migrate"; "run aampctl init" when empty) or newer ("upgrade").
void require_current(Connection& conn, const std::vector<Migration>& migrations = kMigrations);

}  // namespace aamp::store
