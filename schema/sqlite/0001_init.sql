-- 0001_init.sql — the first schema of the aamp-milter policy database (docs/schema.md).
-- Append-only: never edit a migration that has shipped; add NNNN_next.sql instead.
-- Run by store/migrate.cpp inside one transaction, followed by PRAGMA user_version = 1.
-- Times are INTEGER seconds since the epoch (UTC). Addresses and patterns are stored
-- lower-case (normalize_address). Ids that other rows or operators refer to are
-- AUTOINCREMENT so that a deleted id is never handed out again.

-- The recipients aamp-milter protects: one agent address, or a whole domain.
CREATE TABLE mailboxes (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable id, never reused
  address        TEXT    NOT NULL UNIQUE             -- "agent@example.com", or "@example.com" for every mailbox of a domain
                 CHECK (address <> '' AND address = lower(address) AND instr(address, '*') = 0),
  mode           TEXT    NOT NULL DEFAULT 'enforce'  -- enforce: act on decisions; report: decide, log, audit, deliver; off: no enforcement
                 CHECK (mode IN ('enforce', 'report', 'off')),
  intents        TEXT    NOT NULL DEFAULT 'task.dispatch,task.cancel,card.query',  -- comma-separated intents that need sender policy; '' = none
  trust_auth     INTEGER NOT NULL DEFAULT 1 CHECK (trust_auth IN (0, 1)),          -- 1: SMTP AUTH (login allowed to use From) is a trust basis
  trust_internal INTEGER NOT NULL DEFAULT 1 CHECK (trust_internal IN (0, 1)),      -- 1: a client in InternalHosts is a trust basis
  trust_authres  INTEGER NOT NULL DEFAULT 1 CHECK (trust_authres IN (0, 1)),       -- 1: aligned dkim/dmarc pass from a trusted authserv-id is a trust basis
  created_at     INTEGER NOT NULL,                   -- when the mailbox was added
  created_by     TEXT    NOT NULL,                   -- who added it (aampctl: the Unix user)
  updated_at     INTEGER NOT NULL,                   -- last change by `mailbox set`
  note           TEXT    NOT NULL DEFAULT ''         -- free text for operators
) STRICT;
-- address lookups use the UNIQUE index on address.

-- Which senders may dispatch to a mailbox (brief §2): either a configured or a paired
-- rule allowing is enough; context_rules narrow a rule to dispatch contexts.
CREATE TABLE sender_rules (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable id, never reused (audit rows keep it)
  mailbox_id     INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the protected mailbox the rule belongs to
  pattern        TEXT    NOT NULL                    -- canonical pattern: "alice@x.com", "@x.com", "ci-*@x.com", "*"
                 CHECK (pattern <> '' AND pattern = lower(pattern)),
  pattern_kind   TEXT    NOT NULL                    -- exact: equality; domain: any local part at that domain; wildcard: '*' glob
                 CHECK (pattern_kind IN ('exact', 'domain', 'wildcard')),
  context_rules  TEXT    NOT NULL DEFAULT '{}'       -- JSON object key -> array of allowed values; {} = any context
                 CHECK (CASE WHEN json_valid(context_rules) THEN json_type(context_rules) = 'object' ELSE 0 END),
  origin         TEXT    NOT NULL                    -- configured: by an operator; paired: by a successful pair.request
                 CHECK (origin IN ('configured', 'paired')),
  created_at     INTEGER NOT NULL,                   -- when the rule was written first
  created_by     TEXT    NOT NULL,                   -- the Unix user (configured) or "pair-code:<id>" (paired)
  updated_at     INTEGER NOT NULL,                   -- last change (a repeated pairing updates context_rules)
  note           TEXT    NOT NULL DEFAULT '',        -- free text for operators
  CHECK (origin = 'configured' OR pattern_kind = 'exact')  -- a paired rule names exactly its requester
) STRICT;
-- Exact and domain lookups: (mailbox_id, pattern) equality.
CREATE INDEX sender_rules_by_pattern ON sender_rules (mailbox_id, pattern);
-- Wildcard rules are scanned per mailbox only.
CREATE INDEX sender_rules_wildcards ON sender_rules (mailbox_id) WHERE pattern_kind = 'wildcard';
-- One paired rule per (mailbox, requester): a new pairing updates it.
CREATE UNIQUE INDEX sender_rules_one_paired ON sender_rules (mailbox_id, pattern) WHERE origin = 'paired';

-- One-time pair codes issued by `aampctl pair issue`. The code itself is never stored.
CREATE TABLE pair_codes (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,  -- stable id for `pair list` / `pair revoke`
  mailbox_id     INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the mailbox the code pairs with
  code_hash      TEXT    NOT NULL UNIQUE             -- hash_pair_code(code): hex SHA-256 with a domain prefix
                 CHECK (length(code_hash) = 64),
  rules          TEXT    NOT NULL DEFAULT '{}'       -- context rules to attach to the paired rule (JSON object)
                 CHECK (CASE WHEN json_valid(rules) THEN json_type(rules) = 'object' ELSE 0 END),
  created_at     INTEGER NOT NULL,                   -- when it was issued
  created_by     TEXT    NOT NULL,                   -- who issued it (the Unix user)
  expires_at     INTEGER NOT NULL,                   -- valid while now < expires_at
  consumed_at    INTEGER,                            -- when a pair.request redeemed it; NULL while unused
  consumed_by    TEXT,                               -- the requester that redeemed it
  revoked_at     INTEGER,                            -- when an operator revoked it; NULL unless revoked
  note           TEXT    NOT NULL DEFAULT ''         -- free text for operators
) STRICT;
-- `pair list --mailbox` and the cascade from mailboxes.
CREATE INDEX pair_codes_by_mailbox ON pair_codes (mailbox_id, expires_at);

-- Wrong pair codes (unknown, expired, used, revoked), counted for lockouts (brief §4.5).
-- Rows older than the counting window are pruned when the next failure is written.
CREATE TABLE pair_failures (
  id             INTEGER PRIMARY KEY,                -- row id
  mailbox_id     INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the mailbox the request was sent to
  requester      TEXT    NOT NULL,                   -- the request's From address, lower-case
  at             INTEGER NOT NULL,                   -- when it failed
  outcome        TEXT    NOT NULL                    -- why: unknown-code, expired, already-used, revoked
                 CHECK (outcome IN ('unknown-code', 'expired', 'already-used', 'revoked'))
) STRICT;
CREATE INDEX pair_failures_by_mailbox ON pair_failures (mailbox_id, at);
CREATE INDEX pair_failures_by_requester ON pair_failures (requester, at);
CREATE INDEX pair_failures_by_time ON pair_failures (at);

-- Active or past lockouts: one row per mailbox or per requester, refreshed when tripped again.
CREATE TABLE pair_lockouts (
  id             INTEGER PRIMARY KEY,                -- row id
  mailbox_id     INTEGER UNIQUE REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the mailbox locked out; NULL for a requester lockout
  requester      TEXT    UNIQUE,                     -- the requester locked out (every mailbox); NULL for a mailbox lockout
  locked_at      INTEGER NOT NULL,                   -- when the lockout was tripped
  until          INTEGER NOT NULL,                   -- pair.requests are refused while now < until
  failures       INTEGER NOT NULL,                   -- the failure count that tripped it
  CHECK ((mailbox_id IS NULL) <> (requester IS NULL))
) STRICT;

-- One row per decision per protected recipient. Never holds a pair code. Rows have no
-- foreign keys: the trail must outlive the mailboxes and rules it mentions.
CREATE TABLE audit (
  id             INTEGER PRIMARY KEY,                -- row id, in insertion order
  at             INTEGER NOT NULL,                   -- when the decision was taken
  message_id     TEXT    NOT NULL,                   -- the MTA's queue id, or the milter's own id
  client_addr    TEXT    NOT NULL,                   -- SMTP client address; '' for local submission
  auth_user      TEXT    NOT NULL,                   -- SMTP AUTH login; '' when unauthenticated
  envelope_from  TEXT    NOT NULL,                   -- MAIL FROM; '' for the null sender
  header_from    TEXT    NOT NULL,                   -- the From: addr-spec
  recipient      TEXT    NOT NULL,                   -- the protected recipient this row is about
  intent         TEXT    NOT NULL,                   -- X-AAMP-Intent as sent ('' when not AAMP)
  task_id        TEXT    NOT NULL,                   -- X-AAMP-TaskId as sent
  verdict        TEXT    NOT NULL,                   -- allow, deny, invalid, stale, pair-completed, pair-rejected, pair-locked, untrusted, report-* ...
  reason         TEXT    NOT NULL,                   -- one human sentence
  rule_id        INTEGER,                            -- the sender rule that decided; plain integer, NOT a foreign key: it must survive the rule's deletion (ids are never reused)
  rule_pattern   TEXT,                               -- that rule's pattern when the row was written, so the trail reads without the rule
  rule_origin    TEXT                                -- that rule's origin (configured | paired) when the row was written
) STRICT;
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_recipient ON audit (recipient, at);
CREATE INDEX audit_by_header_from ON audit (header_from, at);
CREATE INDEX audit_by_envelope_from ON audit (envelope_from, at);
CREATE INDEX audit_by_verdict ON audit (verdict, at);

-- pair.respond replies waiting to be sent, and the record of those sent or given up.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT, -- stable id the worker marks by
  message_id      TEXT    NOT NULL UNIQUE,           -- the reply's Message-ID "<...>", fixed at enqueue: a resend is the same mail
  from_addr       TEXT    NOT NULL,                  -- the agent mailbox the request was sent to
  to_addr         TEXT    NOT NULL,                  -- the requester
  task_id         TEXT    NOT NULL,                  -- the request's TaskId, repeated in the reply
  status          TEXT    NOT NULL                   -- X-AAMP-Status of the reply
                  CHECK (status IN ('completed', 'rejected')),
  error_msg       TEXT    NOT NULL DEFAULT '',       -- X-AAMP-ErrorMsg when rejected
  in_reply_to     TEXT    NOT NULL DEFAULT '',       -- the request's Message-ID; '' when it had none
  created_at      INTEGER NOT NULL,                  -- when it was enqueued
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- send attempts so far (failed and successful)
  next_attempt_at INTEGER NOT NULL,                  -- not sent before this time (backoff)
  sent_at         INTEGER,                           -- when the MTA accepted it; NULL until then
  abandoned_at    INTEGER,                           -- when the worker gave up; NULL unless abandoned
  last_error      TEXT    NOT NULL DEFAULT ''        -- the last failure, for operators
) STRICT;
-- The worker's query: pending replies by due time.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND abandoned_at IS NULL;
