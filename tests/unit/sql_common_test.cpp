// sql_common_test.cpp — the engine-independent pieces of store/sql.hpp and the pure parts of
// the PostgreSQL driver, without a server: which engine a Database string names, that
// string as messages show it (never a password, whatever its spelling), ?N -> $N, and the
// SQLSTATE -> StoreErrorKind table.
#include <gtest/gtest.h>

#include <string>

#include "store/pg.hpp"
#include "store/sql.hpp"

namespace aamp::store {
namespace {

TEST(DialectOf, Table) {
  struct Row {
    const char* label;
    std::string_view database;
    Dialect want;
  };
  const Row rows[] = {
      {"url", "postgresql://aamp@db.example.net:5432/aamp?sslmode=verify-full", Dialect::postgresql},
      {"short scheme", "postgres://db/aamp", Dialect::postgresql},
      {"bare scheme", "postgresql://", Dialect::postgresql},
      {"keyword host", "host=db.example.net dbname=aamp", Dialect::postgresql},
      {"keyword dbname first", "dbname=aamp user=aamp", Dialect::postgresql},
      {"keyword service", "service=aamp", Dialect::postgresql},
      {"keyword spaced", "  host = db  port=5432", Dialect::postgresql},
      {"keyword password first", "password=x host=db", Dialect::postgresql},
      {"absolute path", "/var/lib/aamp-milter/policy.db", Dialect::sqlite},
      {"relative path", "policy.db", Dialect::sqlite},
      {"path with =", "/srv/a=b/policy.db", Dialect::sqlite},
      {"relative path with =", "data=1.db", Dialect::sqlite},
      {"unknown keyword", "hostname=db", Dialect::sqlite},
      {"upper-case keyword", "HOST=db", Dialect::sqlite},
      {"keyword without =", "host db", Dialect::sqlite},
      {"upper-case scheme", "POSTGRESQL://db/aamp", Dialect::sqlite},
      {"other scheme", "mysql://db/aamp", Dialect::sqlite},
      {"sqlite uri", "file:policy.db?mode=rwc", Dialect::sqlite},
      {"empty", "", Dialect::sqlite},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    EXPECT_EQ(dialect_of(row.database), row.want) << row.database;
  }
}

struct DisplayRow {
  const char* label;
  std::string_view database;
  std::string_view want;
  std::string_view secret;  // must not appear in the display ("" when none)
};

void check_display(const DisplayRow& row) {
  SCOPED_TRACE(row.label);
  const std::string shown = display_database(row.database);
  EXPECT_EQ(shown, row.want);
  if (!row.secret.empty()) {
    EXPECT_EQ(shown.find(row.secret), std::string::npos) << shown;
  }
}

TEST(DisplayDatabase, Urls) {
  const DisplayRow rows[] = {
      {"no password", "postgresql://aamp@db:5432/aamp", "postgresql://aamp@db:5432/aamp", ""},
      {"no user", "postgresql://db/aamp?sslmode=require", "postgresql://db/aamp?sslmode=require", ""},
      {"password", "postgresql://aamp:s3cret@db:5432/aamp", "postgresql://aamp:***@db:5432/aamp", "s3cret"},
      {"short scheme", "postgres://aamp:s3cret@db/aamp", "postgres://aamp:***@db/aamp", "s3cret"},
      {"empty password", "postgresql://aamp:@db/aamp", "postgresql://aamp:***@db/aamp", ""},
      {"escaped @ : / %", "postgresql://aamp:p%40ss%3Aw%2Fo%25rd@db/aamp", "postgresql://aamp:***@db/aamp",
       "p%40ss"},
      {"escaped user", "postgresql://a%40m%3Ap:pw1234@db/aamp", "postgresql://a%40m%3Ap:***@db/aamp", "pw1234"},
      {"raw @ in password", "postgresql://aamp:p@ss@db/aamp", "postgresql://aamp:***@db/aamp", "ss@db/aamp"},
      {"raw : in password", "postgresql://aamp:pa:ss@db/aamp", "postgresql://aamp:***@db/aamp", "pa:ss"},
      {"raw / in password", "postgresql://aamp:pa/ss@db/aamp", "postgresql://aamp:***@db/aamp", "pa/ss"},
      {"raw ? in password", "postgresql://aamp:pa?ss@db/aamp", "postgresql://aamp:***@db/aamp", "pa?ss"},
      {"multi-host", "postgresql://aamp:s3cret@db1:5432,db2:5433/aamp?target_session_attrs=read-write",
       "postgresql://aamp:***@db1:5432,db2:5433/aamp?target_session_attrs=read-write", "s3cret"},
      {"ipv6 hosts", "postgresql://aamp:s3cret@[::1]:5432,[fe80::1]/aamp",
       "postgresql://aamp:***@[::1]:5432,[fe80::1]/aamp", "s3cret"},
      {"query password", "postgresql://db/aamp?user=aamp&password=s3cret&sslmode=require",
       "postgresql://db/aamp?user=aamp&password=***&sslmode=require", "s3cret"},
      {"query password last", "postgresql://db/aamp?password=s3cret", "postgresql://db/aamp?password=***",
       "s3cret"},
      {"query password escaped key", "postgresql://db/aamp?pass%77ord=s3cret", "postgresql://db/aamp?pass%77ord=***",
       "s3cret"},
      {"query password with raw &", "postgresql://db/aamp?password=s3&cret&sslmode=require",
       "postgresql://db/aamp?password=***&sslmode=require", "cret"},
      {"query password with raw @", "postgresql://db/aamp?password=p@ssw0rd", "postgresql://db/aamp?password=***",
       "ssw0rd"},
      {"both", "postgresql://aamp:one1@db/aamp?password=two2", "postgresql://aamp:***@db/aamp?password=***", "one1"},
      {"passfile is not a password", "postgresql://db/aamp?passfile=/etc/aamp/pgpass",
       "postgresql://db/aamp?passfile=/etc/aamp/pgpass", ""},
  };
  for (const auto& row : rows) check_display(row);
  EXPECT_EQ(display_database("postgresql://aamp:one1@db/aamp?password=two2").find("two2"), std::string::npos);
}

TEST(DisplayDatabase, Keywords) {
  const DisplayRow rows[] = {
      {"no password", "host=db dbname=aamp user=aamp", "host=db dbname=aamp user=aamp", ""},
      {"bare", "host=db password=s3cret dbname=aamp", "host=db password=*** dbname=aamp", "s3cret"},
      {"last", "host=db password=s3cret", "host=db password=***", "s3cret"},
      {"first", "password=s3cret host=db", "password=*** host=db", "s3cret"},
      {"spaced", "host=db password = s3cret dbname=aamp", "host=db password = *** dbname=aamp", "s3cret"},
      {"quoted with spaces", "host=db password='s3 cr et' dbname=aamp", "host=db password=*** dbname=aamp", "cr et"},
      {"quoted with escaped quote", R"(host=db password='it\'s a secret' dbname=aamp)",
       "host=db password=*** dbname=aamp", "secret"},
      {"quoted with escaped backslash", R"(host=db password='a\\' dbname=aamp)", "host=db password=*** dbname=aamp",
       R"(a\\)"},
      {"bare with escaped space", R"(host=db password=s3\ cret dbname=aamp)", "host=db password=*** dbname=aamp",
       "cret"},
      {"unterminated quote", "host=db password='s3cret dbname=aamp", "host=db password=***", "s3cret"},
      {"empty quoted", "host=db password='' dbname=aamp", "host=db password=*** dbname=aamp", ""},
      {"twice", "password=one1 host=db password=two2", "password=*** host=db password=***", "one1"},
      {"quoted other values", "host=db options='-c search_path=x' password=s3cret",
       "host=db options='-c search_path=x' password=***", "s3cret"},
      {"passfile", "host=db passfile=/etc/pgpass", "host=db passfile=/etc/pgpass", ""},
      {"url as dbname", "dbname=postgresql://aamp:s3cret@db/aamp", "dbname=postgresql://aamp:***@db/aamp", "s3cret"},
      {"quoted url as dbname", "host=x dbname='postgresql://aamp:s3cret@db/aamp'",
       "host=x dbname='postgresql://aamp:***@db/aamp'", "s3cret"},
      {"tabs and newlines", "host=db\tpassword=s3cret\ndbname=aamp", "host=db\tpassword=***\ndbname=aamp", "s3cret"},
  };
  for (const auto& row : rows) check_display(row);
}

TEST(DisplayDatabase, PathsAsTheyAre) {
  for (const std::string_view path : {"/var/lib/aamp/policy.db", "relative/p@ss:word.db", "", "a=b.db"})
    EXPECT_EQ(display_database(path), path);
}

TEST(PgPlaceholders, Table) {
  struct Row {
    const char* label;
    std::string_view sql;
    std::string_view want;
    int params;
  };
  const Row rows[] = {
      {"none", "SELECT 1", "SELECT 1", 0},
      {"several", "SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?3)", "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)",
       3},
      {"repeated and unordered", "UPDATE t SET a = ?2 WHERE b = ?1 OR c = ?2", "UPDATE t SET a = $2 WHERE b = $1 OR c = $2",
       2},
      {"two digits", "VALUES (?10, ?9)", "VALUES ($10, $9)", 10},
      {"inside a literal", "SELECT '?1', ?1", "SELECT '?1', $1", 1},
      {"escaped quote in a literal", "SELECT 'it''s ?2', ?1", "SELECT 'it''s ?2', $1", 1},
      {"inside an identifier", "SELECT \"?1\" FROM t WHERE a = ?1", "SELECT \"?1\" FROM t WHERE a = $1", 1},
      {"inside a comment", "SELECT ?1 -- not ?2\n, ?3", "SELECT $1 -- not ?2\n, $3", 3},
      {"bare ?", "SELECT a ? b", "SELECT a ? b", 0},
      {"at the end", "SELECT ?", "SELECT ?", 0},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const PgSql got = pg_placeholders(row.sql);
    EXPECT_EQ(got.text, row.want);
    EXPECT_EQ(got.params, row.params);
  }
}

TEST(PgErrorKind, Table) {
  struct Row {
    std::string_view sqlstate;
    bool lost;
    StoreErrorKind want;
  };
  const Row rows[] = {
      {"08006", false, StoreErrorKind::unavailable},  // connection_failure
      {"08001", false, StoreErrorKind::unavailable},  // sqlclient_unable_to_establish_sqlconnection
      {"57P01", false, StoreErrorKind::unavailable},  // admin_shutdown (pg_terminate_backend)
      {"57P02", false, StoreErrorKind::unavailable},  // crash_shutdown
      {"57P03", false, StoreErrorKind::unavailable},  // cannot_connect_now
      {"28P01", false, StoreErrorKind::unavailable},  // invalid_password
      {"3D000", false, StoreErrorKind::unavailable},  // invalid_catalog_name
      {"55P03", false, StoreErrorKind::busy},         // lock_not_available (lock_timeout)
      {"40001", false, StoreErrorKind::busy},         // serialization_failure
      {"40P01", false, StoreErrorKind::busy},         // deadlock_detected
      {"57014", false, StoreErrorKind::busy},         // query_canceled
      {"53100", false, StoreErrorKind::full},         // disk_full
      {"23505", false, StoreErrorKind::io},           // unique_violation
      {"23514", false, StoreErrorKind::io},           // check_violation
      {"42P01", false, StoreErrorKind::io},           // undefined_table
      {"", false, StoreErrorKind::io},                // none reported, connection fine
      {"", true, StoreErrorKind::unavailable},        // none reported, connection gone
      {"23505", true, StoreErrorKind::unavailable},   // the connection state wins
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(row.sqlstate) + (row.lost ? " lost" : ""));
    EXPECT_EQ(pg_error_kind(row.sqlstate, row.lost), row.want);
  }
}

}  // namespace
}  // namespace aamp::store
