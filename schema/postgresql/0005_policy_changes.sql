-- 0005_policy_changes.sql (PostgreSQL) — a change log of policy, so that every milter keeps
-- its mailboxes and sender rules in memory (store/policy_cache.*) and re-reads only what
-- changed. The triggers below write one row for each row written to mailboxes or
-- sender_rules, by whoever writes it (aampctl, a pairing on any host, an older binary that
-- knows nothing of this table): a reader polls `seq > last seen` and reloads the mailboxes
-- named there. Additive only: a binary one release older writes as before.
-- Pruned here: rows older than one day go, about once every 1,000 changes. A reader whose
-- last refresh is more than an hour old reloads everything instead of reading this log
-- (PolicyCacheOptions::full_reload_after), so it never needs a pruned row.
-- min-reader: 4

CREATE TABLE policy_changes (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- change number, ascending in commit order (see aamp_policy_lock below)
  mailbox_id bigint NOT NULL,                                   -- the mailbox whose row or rules changed; plain integer, NOT a foreign key: a deleted mailbox's id is recorded too
  at         bigint NOT NULL                                    -- when (the server's transaction start, seconds since the epoch), for pruning only
);
-- Pruning by age.
CREATE INDEX policy_changes_by_time ON policy_changes (at);

-- Why a lock: a sequence hands out numbers when rows are inserted, not when transactions
-- commit. Were transaction A to take seq 5 and B seq 6, and B commit first, a reader polling
-- `seq > last` would see 6, remember it, and never ask for 5 once A commits: A's change would
-- be missed for good. So every transaction that changes policy first takes one advisory
-- transaction lock (the fixed key below, "aamppolc"; pair-attempt keys of lock_key are other
-- numbers), held until it commits or rolls back: policy-changing transactions run one after
-- another, each takes its seq numbers after the previous one committed, and a reader that
-- sees seq N sees every seq below N that will ever commit. The lock is taken by a statement
-- trigger before the statement locks any row (so that two writers never wait on a row and
-- the lock in opposite orders), and again, at no cost, by the row trigger.
CREATE FUNCTION aamp_policy_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7017010024110058595);
  RETURN NULL;
END
$$;

-- One row per changed row, naming the mailbox: mailboxes.id, or sender_rules.mailbox_id;
-- for a deleted row the id it had; an update that changes the id names both. A
-- notification on channel aamp_policy tells listeners that something changed (sent once per
-- transaction, at commit; the cache polls today and may LISTEN later).
CREATE FUNCTION aamp_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  old_id bigint;
  new_id bigint;
  last_seq bigint;
  stamp bigint := extract(epoch FROM now())::bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(7017010024110058595);
  IF TG_TABLE_NAME = 'mailboxes' THEN
    IF TG_OP <> 'INSERT' THEN old_id := OLD.id; END IF;
    IF TG_OP <> 'DELETE' THEN new_id := NEW.id; END IF;
  ELSE
    IF TG_OP <> 'INSERT' THEN old_id := OLD.mailbox_id; END IF;
    IF TG_OP <> 'DELETE' THEN new_id := NEW.mailbox_id; END IF;
  END IF;
  IF old_id IS NOT NULL THEN
    INSERT INTO policy_changes (mailbox_id, at) VALUES (old_id, stamp) RETURNING seq INTO last_seq;
  END IF;
  IF new_id IS NOT NULL AND new_id IS DISTINCT FROM old_id THEN
    INSERT INTO policy_changes (mailbox_id, at) VALUES (new_id, stamp) RETURNING seq INTO last_seq;
  END IF;
  IF last_seq % 1000 = 0 THEN
    DELETE FROM policy_changes WHERE at < stamp - 86400;
  END IF;
  PERFORM pg_notify('aamp_policy', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER policy_changes_mailboxes_lock BEFORE INSERT OR UPDATE OR DELETE ON mailboxes
  FOR EACH STATEMENT EXECUTE FUNCTION aamp_policy_lock();
CREATE TRIGGER policy_changes_mailboxes AFTER INSERT OR UPDATE OR DELETE ON mailboxes
  FOR EACH ROW EXECUTE FUNCTION aamp_policy_changed();
CREATE TRIGGER policy_changes_rules_lock BEFORE INSERT OR UPDATE OR DELETE ON sender_rules
  FOR EACH STATEMENT EXECUTE FUNCTION aamp_policy_lock();
CREATE TRIGGER policy_changes_rules AFTER INSERT OR UPDATE OR DELETE ON sender_rules
  FOR EACH ROW EXECUTE FUNCTION aamp_policy_changed();
