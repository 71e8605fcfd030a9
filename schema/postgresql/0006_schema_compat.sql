-- 0006_schema_compat.sql (PostgreSQL) — which schema versions an older program may run
-- against, for rolling upgrades (docs/multi-mx.md): `aampctl migrate` runs first, with the
-- new aampctl, while milters one release older go on serving against the new schema until
-- each host is upgraded. aampctl's migrate writes one row per migration it applies, from
-- the migration file's `-- min-reader: N` line (a migration without one needs its own
-- version: a program older than it refuses the database, as before). A program at version
-- L opens a database at version V > L only when the row for V says min_reader <= L; a
-- database whose version has no row is refused as newer than this program.
-- min-reader: 4

CREATE TABLE schema_compat (
  version integer PRIMARY KEY,     -- a schema version (aamp_schema_version after that migration)
  min_reader integer NOT NULL      -- the oldest program version that may run against it
    CHECK (min_reader BETWEEN 1 AND version)
);
