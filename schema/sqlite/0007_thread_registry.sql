-- 0007_thread_registry.sql — the thread registry and the delivered-message record
-- (policy/thread_binding.hpp, docs/operations.md "Thread binding"): who started which task
-- thread, pair.request or card.query with whom, so that the rest of a thread is accepted
-- only from its parties; and which AAMP message was delivered to which protected recipient,
-- so that a second copy is not. Both are bounded: the daemon's pruner deletes rows whose
-- expires_at has passed. Two nullable columns on mailboxes hold a mailbox's own thread
-- binding settings (NULL: the configuration's). Additive only: a program one release older
-- runs against it unchanged (it neither records nor checks threads).
-- min-reader: 6

CREATE TABLE threads (
  kind        TEXT    NOT NULL CHECK (kind IN ('task', 'pair', 'card')),  -- task.dispatch, pair.request, card.query
  task_id     TEXT    NOT NULL,                   -- the X-AAMP-TaskId of the message that started it
  initiator   TEXT    NOT NULL                    -- the dispatcher (requester, querier), lower case
              CHECK (initiator = lower(initiator)),
  peer        TEXT    NOT NULL                    -- the agent (the mailbox asked), lower case
              CHECK (peer = lower(peer)),
  created_at  INTEGER NOT NULL,                   -- when it was first recorded
  expires_at  INTEGER NOT NULL,                   -- pruned after this: the later of Expires-At and created_at + ThreadRetention
  PRIMARY KEY (kind, peer, task_id)               -- the first initiator at a peer owns the thread
) STRICT;
-- Answers look a thread up by who started it.
CREATE INDEX threads_by_initiator ON threads (kind, initiator, task_id);
CREATE INDEX threads_by_expiry ON threads (expires_at);

CREATE TABLE delivered_messages (
  message_id   TEXT    NOT NULL,                  -- the Message-ID field as sent, trimmed
  recipient    TEXT    NOT NULL,                  -- the protected recipient, lower case
  delivered_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,                  -- pruned after this: delivered_at + ThreadRetention
  PRIMARY KEY (message_id, recipient)
) STRICT;
CREATE INDEX delivered_messages_by_expiry ON delivered_messages (expires_at);

ALTER TABLE mailboxes ADD COLUMN thread_binding TEXT CHECK (thread_binding IN ('enforce', 'report', 'off'));
ALTER TABLE mailboxes ADD COLUMN unknown_threads TEXT CHECK (unknown_threads IN ('allow', 'refuse'));
