// migrate.cpp — see migrate.hpp.
#include "store/migrate.hpp"

#include <fmt/format.h>

namespace aamp::store {

namespace {

void check_numbering(const std::vector<Migration>& migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i)
    if (migrations[i].version != static_cast<int>(i) + 1)
      throw StoreError(StoreErrorKind::schema,
                       fmt::format("migration {} is numbered {}, expected {}: schema/ files must be numbered "
                                   "0001, 0002, ... without gaps",
                                   migrations[i].name, migrations[i].version, i + 1));
}

[[noreturn]] void newer(const Connection& conn, int have, int know) {
  throw StoreError(StoreErrorKind::schema,
                   fmt::format("{}: the database has schema version {}, newer than this program knows ({}); "
                               "upgrade aamp-milter and aampctl, or use the database with the version that wrote it",
                               conn.path(), have, know));
}

// The first schema version with the schema_compat table (0006_schema_compat.sql).
constexpr int kFirstCompatVersion = 6;

// The migration file's "-- min-reader: N" line; without one, its own version.
int declared_min_reader(const Migration& m) {
  const std::string_view sql = m.sql;
  constexpr std::string_view key = "-- min-reader: ";
  const auto at = sql.find(key);
  if (at == std::string_view::npos) return m.version;
  int n = 0;
  for (auto i = at + key.size(); i < sql.size() && sql[i] >= '0' && sql[i] <= '9'; ++i) n = n * 10 + (sql[i] - '0');
  return n >= 1 && n <= m.version ? n : m.version;
}

// Whether a program whose schema is `latest` may run against the database's `have` >
// latest: schema_compat's row for `have` says so. No table or no row: it may not.
bool readable_by(Connection& conn, int have, int latest) {
  if (have < kFirstCompatVersion) return false;
  try {
    auto st = conn.prepare("SELECT min_reader FROM schema_compat WHERE version = ?1");
    st.bind(1, have);
    return st.step() && st.int64(0) <= latest;
  } catch (const StoreError&) {
    return false;
  }
}

}  // namespace

const std::vector<Migration>& migrations_for(Dialect dialect) noexcept {
  return dialect == Dialect::postgresql ? kPgMigrations : kSqliteMigrations;
}

int schema_version(Connection& conn) { return conn.schema_version(); }

int latest_version(const std::vector<Migration>& migrations) noexcept {
  return migrations.empty() ? 0 : migrations.back().version;
}

MigrationResult migrate(Connection& conn) { return migrate(conn, migrations_for(conn.dialect())); }

void require_current(Connection& conn) { require_current(conn, migrations_for(conn.dialect())); }

MigrationResult migrate(Connection& conn, const std::vector<Migration>& migrations) {
  check_numbering(migrations);
  const int latest = latest_version(migrations);
  MigrationResult result;
  result.from = schema_version(conn);
  if (result.from > latest) newer(conn, result.from, latest);
  for (const auto& m : migrations) {
    Transaction tx(conn, Transaction::Kind::write);
    conn.lock_key("aamp-migrate");
    // Read again under the write lock: another process may have migrated meanwhile.
    const int now_at = schema_version(conn);
    if (now_at > latest) newer(conn, now_at, latest);
    if (m.version <= now_at) continue;
    conn.exec(m.sql, fmt::format("applying migration {}", m.name));
    conn.set_schema_version(m.version);
    if (m.version >= kFirstCompatVersion)
      conn.prepare("INSERT INTO schema_compat (version, min_reader) VALUES (?1, ?2)")
          .bind(1, m.version)
          .bind(2, declared_min_reader(m))
          .run();
    tx.commit();
  }
  result.to = schema_version(conn);
  return result;
}

void require_current(Connection& conn, const std::vector<Migration>& migrations) {
  const int have = schema_version(conn);
  const int latest = latest_version(migrations);
  if (have == latest) return;
  // A newer schema that declares itself readable by this version: a rolling upgrade in
  // progress (aampctl migrate ran first; this program is the one release older).
  if (have > latest && readable_by(conn, have, latest)) return;
  if (have > latest) newer(conn, have, latest);
  if (have == 0)
    throw StoreError(StoreErrorKind::schema,
                     fmt::format("{}: the database is not initialised; run `aampctl init`", conn.path()));
  throw StoreError(StoreErrorKind::schema,
                   fmt::format("{}: the database has schema version {}, older than this program's {}; "
                               "run `aampctl migrate`",
                               conn.path(), have, latest));
}

}  // namespace aamp::store
