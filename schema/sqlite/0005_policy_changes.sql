-- 0005_policy_changes.sql — a change log of policy, so that every milter keeps its mailboxes
-- and sender rules in memory (store/policy_cache.*) and re-reads only what changed. The
-- triggers below write one row for each row written to mailboxes or sender_rules, by
-- whoever writes it (aampctl, a pairing, an older binary that knows nothing of this
-- table): a reader polls `seq > last seen` and reloads the mailboxes named there.
-- Additive only: a binary one release older writes mailboxes and sender_rules as before.
-- Pruned here (policy_changes_prune): rows older than one day go, about once every 1,000
-- changes. A reader whose last refresh is more than an hour old reloads everything
-- instead of reading this log (PolicyCacheOptions::full_reload_after), so it never needs
-- a pruned row.
-- min-reader: 4

CREATE TABLE policy_changes (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- change number, ascending in commit order (SQLite has one writer at a time); AUTOINCREMENT: never handed out again after pruning, or a reader's `seq > last` would miss new rows
  mailbox_id INTEGER NOT NULL,                   -- the mailbox whose row or rules changed; plain integer, NOT a foreign key: a deleted mailbox's id is recorded too
  at         INTEGER NOT NULL                    -- when (the writer's clock, seconds since the epoch), for pruning only
) STRICT;
-- Pruning by age.
CREATE INDEX policy_changes_by_time ON policy_changes (at);

-- One row per inserted, updated or deleted mailbox: its id (for a deleted one, the id it had).
CREATE TRIGGER policy_changes_mailbox_insert AFTER INSERT ON mailboxes BEGIN
  INSERT INTO policy_changes (mailbox_id, at) VALUES (NEW.id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER policy_changes_mailbox_update AFTER UPDATE ON mailboxes BEGIN
  INSERT INTO policy_changes (mailbox_id, at)
    SELECT OLD.id, CAST(strftime('%s', 'now') AS INTEGER)
    UNION SELECT NEW.id, CAST(strftime('%s', 'now') AS INTEGER);
END;
CREATE TRIGGER policy_changes_mailbox_delete AFTER DELETE ON mailboxes BEGIN
  INSERT INTO policy_changes (mailbox_id, at) VALUES (OLD.id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- One row per inserted, updated or deleted sender rule: the mailbox it belongs (or belonged)
-- to; an update that moves a rule names both mailboxes. The rules a deleted mailbox takes
-- with it (ON DELETE CASCADE) are logged too, under the same id.
CREATE TRIGGER policy_changes_rule_insert AFTER INSERT ON sender_rules BEGIN
  INSERT INTO policy_changes (mailbox_id, at) VALUES (NEW.mailbox_id, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER policy_changes_rule_update AFTER UPDATE ON sender_rules BEGIN
  INSERT INTO policy_changes (mailbox_id, at)
    SELECT OLD.mailbox_id, CAST(strftime('%s', 'now') AS INTEGER)
    UNION SELECT NEW.mailbox_id, CAST(strftime('%s', 'now') AS INTEGER);
END;
CREATE TRIGGER policy_changes_rule_delete AFTER DELETE ON sender_rules BEGIN
  INSERT INTO policy_changes (mailbox_id, at) VALUES (OLD.mailbox_id, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- Rows older than a day, removed about once every 1,000 changes (one index range scan).
CREATE TRIGGER policy_changes_prune AFTER INSERT ON policy_changes WHEN NEW.seq % 1000 = 0 BEGIN
  DELETE FROM policy_changes WHERE at < NEW.at - 86400;
END;
