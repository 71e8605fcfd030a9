-- 0002_audit_case_insensitive_indexes.sql — audit lookups by address are case-insensitive
-- (the milter writes addresses as the MTA and the message gave them; `aampctl audit
-- --mailbox/--sender` compare lower(...)), so index lower(...) instead of the raw column.
DROP INDEX audit_by_recipient;
DROP INDEX audit_by_header_from;
DROP INDEX audit_by_envelope_from;
CREATE INDEX audit_by_recipient ON audit (lower(recipient), at);
CREATE INDEX audit_by_header_from ON audit (lower(header_from), at);
CREATE INDEX audit_by_envelope_from ON audit (lower(envelope_from), at);
