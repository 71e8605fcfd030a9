// database_name.hpp — what a `Database` value (config) or `aampctl --db` names: a SQLite
// file's path or a PostgreSQL connection string, and how to show it. Pure string
// functions; no engine here.
#pragma once

#include <string>
#include <string_view>

#include "policy/names.hpp"

namespace aamp::store {

enum class Dialect { sqlite, postgresql };
inline constexpr NameTable<Dialect, 2> kDialectNames{
    {{"sqlite", Dialect::sqlite}, {"postgresql", Dialect::postgresql}}};
constexpr std::string_view to_string(Dialect d) noexcept { return name_of(kDialectNames, d); }

// PostgreSQL for a postgresql:// or postgres:// URL or libpq's keyword form
// ("host=... dbname=..."); a SQLite path for anything else.
Dialect dialect_of(std::string_view database) noexcept;

// `database` fit for a log line or aampctl's output: a PostgreSQL connection string with
// its password (URL user:password@ or password=...) replaced by "***"; a path as it is.
std::string display_database(std::string_view database);

}  // namespace aamp::store
