-- 0001_init.sql (PostgreSQL) — the first schema of the aamp-milter policy database
-- (docs/schema.md), the same tables, columns, constraints and indexes as
-- schema/sqlite/0001_init.sql, so that the store's one set of SQL statements runs on both.
-- Append-only: never edit a migration that has shipped; add NNNN_next.sql instead, in
-- lockstep with the SQLite file of the same number.
-- Run by store/migrate.cpp inside one transaction, followed by the schema version (table
-- aamp_schema_version, written by the driver: store/pg.cpp).
-- Times are bigint seconds since the epoch (UTC). Addresses and patterns are stored
-- lower-case (normalize_address). Ids come from identity columns, whose sequences never
-- hand out a deleted id again (SQLite's AUTOINCREMENT). Flags stay integer 0/1 (not
-- boolean) and JSON stays text, so that the shared SQL binds and reads them alike.

-- The recipients aamp-milter protects: one agent address, or a whole domain.
CREATE TABLE mailboxes (
  id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- stable id, never reused
  address        text    NOT NULL UNIQUE             -- "agent@example.com", or "@example.com" for every mailbox of a domain
                 CHECK (address <> '' AND address = lower(address) AND strpos(address, '*') = 0),
  mode           text    NOT NULL DEFAULT 'enforce'  -- enforce: act on decisions; report: decide, log, audit, deliver; off: no enforcement
                 CHECK (mode IN ('enforce', 'report', 'off')),
  intents        text    NOT NULL DEFAULT 'task.dispatch,task.cancel,card.query',  -- comma-separated intents that need sender policy; '' = none
  trust_auth     integer NOT NULL DEFAULT 1 CHECK (trust_auth IN (0, 1)),          -- 1: SMTP AUTH (login allowed to use From) is a trust basis
  trust_internal integer NOT NULL DEFAULT 1 CHECK (trust_internal IN (0, 1)),      -- 1: a client in InternalHosts is a trust basis
  trust_authres  integer NOT NULL DEFAULT 1 CHECK (trust_authres IN (0, 1)),       -- 1: aligned dkim/dmarc pass from a trusted authserv-id is a trust basis
  created_at     bigint  NOT NULL,                   -- when the mailbox was added
  created_by     text    NOT NULL,                   -- who added it (aampctl: the Unix user)
  updated_at     bigint  NOT NULL,                   -- last change by `mailbox set`
  note           text    NOT NULL DEFAULT ''         -- free text for operators
);
-- address lookups use the UNIQUE index on address.

-- Which senders may dispatch to a mailbox (brief §2): either a configured or a paired
-- rule allowing is enough; context_rules narrow a rule to dispatch contexts.
CREATE TABLE sender_rules (
  id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- stable id, never reused (audit rows keep it)
  mailbox_id     bigint  NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the protected mailbox the rule belongs to
  pattern        text    NOT NULL                    -- canonical pattern: "alice@x.com", "@x.com", "ci-*@x.com", "*"
                 CHECK (pattern <> '' AND pattern = lower(pattern)),
  pattern_kind   text    NOT NULL                    -- exact: equality; domain: any local part at that domain; wildcard: '*' glob
                 CHECK (pattern_kind IN ('exact', 'domain', 'wildcard')),
  -- JSON object key -> array of allowed values; {} = any context. Text that is not JSON
  -- fails the cast (an error, as SQLite's CHECK fails); JSON that is not an object fails the CHECK.
  context_rules  text    NOT NULL DEFAULT '{}'
                 CHECK (jsonb_typeof(context_rules::jsonb) = 'object'),
  origin         text    NOT NULL                    -- configured: by an operator; paired: by a successful pair.request
                 CHECK (origin IN ('configured', 'paired')),
  created_at     bigint  NOT NULL,                   -- when the rule was written first
  created_by     text    NOT NULL,                   -- the Unix user (configured) or "pair-code:<id>" (paired)
  updated_at     bigint  NOT NULL,                   -- last change (a repeated pairing updates context_rules)
  note           text    NOT NULL DEFAULT '',        -- free text for operators
  CHECK (origin = 'configured' OR pattern_kind = 'exact')  -- a paired rule names exactly its requester
);
-- Exact and domain lookups: (mailbox_id, pattern) equality.
CREATE INDEX sender_rules_by_pattern ON sender_rules (mailbox_id, pattern);
-- Wildcard rules are scanned per mailbox only.
CREATE INDEX sender_rules_wildcards ON sender_rules (mailbox_id) WHERE pattern_kind = 'wildcard';
-- One paired rule per (mailbox, requester): a new pairing updates it. The store's
-- ON CONFLICT (mailbox_id, pattern) WHERE origin = 'paired' names this partial index.
CREATE UNIQUE INDEX sender_rules_one_paired ON sender_rules (mailbox_id, pattern) WHERE origin = 'paired';

-- One-time pair codes issued by `aampctl pair issue`. The code itself is never stored.
CREATE TABLE pair_codes (
  id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- stable id for `pair list` / `pair revoke`
  mailbox_id     bigint  NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the mailbox the code pairs with
  code_hash      text    NOT NULL UNIQUE             -- hash_pair_code(code): hex SHA-256 with a domain prefix
                 CHECK (length(code_hash) = 64),
  rules          text    NOT NULL DEFAULT '{}'       -- context rules to attach to the paired rule (JSON object)
                 CHECK (jsonb_typeof(rules::jsonb) = 'object'),
  created_at     bigint  NOT NULL,                   -- when it was issued
  created_by     text    NOT NULL,                   -- who issued it (the Unix user)
  expires_at     bigint  NOT NULL,                   -- valid while now < expires_at
  consumed_at    bigint,                             -- when a pair.request redeemed it; NULL while unused
  consumed_by    text,                               -- the requester that redeemed it
  revoked_at     bigint,                             -- when an operator revoked it; NULL unless revoked
  note           text    NOT NULL DEFAULT ''         -- free text for operators
);
-- `pair list --mailbox` and the cascade from mailboxes.
CREATE INDEX pair_codes_by_mailbox ON pair_codes (mailbox_id, expires_at);

-- Wrong pair codes (unknown, expired, used, revoked), counted for lockouts (brief §4.5).
-- Rows older than the counting window are pruned when the next failure is written.
CREATE TABLE pair_failures (
  id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- row id
  mailbox_id     bigint  NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the mailbox the request was sent to
  requester      text    NOT NULL,                   -- the request's From address, lower-case
  at             bigint  NOT NULL,                   -- when it failed
  outcome        text    NOT NULL                    -- why: unknown-code, expired, already-used, revoked
                 CHECK (outcome IN ('unknown-code', 'expired', 'already-used', 'revoked'))
);
CREATE INDEX pair_failures_by_mailbox ON pair_failures (mailbox_id, at);
CREATE INDEX pair_failures_by_requester ON pair_failures (requester, at);
CREATE INDEX pair_failures_by_time ON pair_failures (at);

-- Active or past lockouts: one row per mailbox or per requester, refreshed when tripped
-- again. The UNIQUE constraints are what ON CONFLICT (mailbox_id) / (requester) name;
-- several NULLs do not conflict, as in SQLite.
CREATE TABLE pair_lockouts (
  id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- row id
  mailbox_id     bigint  UNIQUE REFERENCES mailboxes (id) ON DELETE CASCADE,  -- the mailbox locked out; NULL for a requester lockout
  requester      text    UNIQUE,                     -- the requester locked out (every mailbox); NULL for a mailbox lockout
  locked_at      bigint  NOT NULL,                   -- when the lockout was tripped
  until          bigint  NOT NULL,                   -- pair.requests are refused while now < until
  failures       integer NOT NULL,                   -- the failure count that tripped it
  CHECK ((mailbox_id IS NULL) <> (requester IS NULL))
);

-- One row per decision per protected recipient. Never holds a pair code. Rows have no
-- foreign keys: the trail must outlive the mailboxes and rules it mentions.
CREATE TABLE audit (
  id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- row id, in insertion order
  at             bigint  NOT NULL,                   -- when the decision was taken
  message_id     text    NOT NULL,                   -- the MTA's queue id, or the milter's own id
  client_addr    text    NOT NULL,                   -- SMTP client address; '' for local submission
  auth_user      text    NOT NULL,                   -- SMTP AUTH login; '' when unauthenticated
  envelope_from  text    NOT NULL,                   -- MAIL FROM; '' for the null sender
  header_from    text    NOT NULL,                   -- the From: addr-spec
  recipient      text    NOT NULL,                   -- the protected recipient this row is about
  intent         text    NOT NULL,                   -- X-AAMP-Intent as sent ('' when not AAMP)
  task_id        text    NOT NULL,                   -- X-AAMP-TaskId as sent
  verdict        text    NOT NULL,                   -- allow, deny, invalid, stale, pair-completed, pair-rejected, pair-locked, untrusted, report-* ...
  reason         text    NOT NULL,                   -- one human sentence
  rule_id        bigint,                             -- the sender rule that decided; plain integer, NOT a foreign key: it must survive the rule's deletion (ids are never reused)
  rule_pattern   text,                               -- that rule's pattern when the row was written, so the trail reads without the rule
  rule_origin    text                                -- that rule's origin (configured | paired) when the row was written
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_recipient ON audit (recipient, at);
CREATE INDEX audit_by_header_from ON audit (header_from, at);
CREATE INDEX audit_by_envelope_from ON audit (envelope_from, at);
CREATE INDEX audit_by_verdict ON audit (verdict, at);

-- pair.respond replies waiting to be sent, and the record of those sent or given up.
CREATE TABLE outbox (
  id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- stable id the worker marks by
  message_id      text    NOT NULL UNIQUE,           -- the reply's Message-ID "<...>", fixed at enqueue: a resend is the same mail
  from_addr       text    NOT NULL,                  -- the agent mailbox the request was sent to
  to_addr         text    NOT NULL,                  -- the requester
  task_id         text    NOT NULL,                  -- the request's TaskId, repeated in the reply
  status          text    NOT NULL                   -- X-AAMP-Status of the reply
                  CHECK (status IN ('completed', 'rejected')),
  error_msg       text    NOT NULL DEFAULT '',       -- X-AAMP-ErrorMsg when rejected
  in_reply_to     text    NOT NULL DEFAULT '',       -- the request's Message-ID; '' when it had none
  created_at      bigint  NOT NULL,                  -- when it was enqueued
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- send attempts so far (failed and successful)
  next_attempt_at bigint  NOT NULL,                  -- not sent before this time (backoff)
  sent_at         bigint,                            -- when the MTA accepted it; NULL until then
  abandoned_at    bigint,                            -- when the worker gave up; NULL unless abandoned
  last_error      text    NOT NULL DEFAULT ''        -- the last failure, for operators
);
-- The worker's query: pending replies by due time.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND abandoned_at IS NULL;
