// migrations.hpp — the schema migrations compiled into the program, from schema/NNNN_*.sql
// (the build generates their definition, cmake/EmbedMigrations.cmake). Append-only: a
// released migration is never edited; a change is a new file with the next number.
// Immutable after static initialisation; safe to read from any thread.
#pragma once

#include <vector>

namespace aamp::store {

struct Migration {
  int version;       // NNNN of the file name; PRAGMA user_version after it is applied
  const char* name;  // the file name, e.g. "0001_init.sql"
  const char* sql;   // the whole file, run as one script inside one transaction
};

// In ascending version order, starting at 1, without gaps: SQLite's (schema/sqlite/) and
// PostgreSQL's (schema/postgresql/), numbered in lockstep.
extern const std::vector<Migration> kMigrations;
extern const std::vector<Migration> kPgMigrations;

}  // namespace aamp::store
