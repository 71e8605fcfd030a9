-- 0004_audit_time_index_only.sql — the audit table keeps one index, by time. Every audit
-- row is written on the message path, and each secondary index cost 40-50 µs of CPU per
-- AAMP message (measured: docs/performance.md, "audit indexes"); auditors' queries are
-- occasional and bounded by time (`aampctl audit --since`), so they walk audit_by_time and
-- filter instead. Queries without --since show the latest rows first and stop early.
DROP INDEX audit_by_verdict;
DROP INDEX audit_by_recipient;
DROP INDEX audit_by_header_from;
DROP INDEX audit_by_envelope_from;
