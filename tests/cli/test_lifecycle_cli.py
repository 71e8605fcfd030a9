"""test_lifecycle_cli.py — the data lifecycle commands of aampctl (docs/cli.md): `audit
prune --before`, `outbox list|retry|drop` and `backup`, on a SQLite file and on a PostgreSQL
database of a throwaway cluster (tests/pg_cluster.py), through the real binary. Rows are put
in with plain SQL at chosen ages, as the milter would have written them.

Environment: AAMPCTL (the binary under test). PostgreSQL 15 binaries (tests/pg_cluster.py).
"""
import json
import os
import pathlib
import sqlite3
import stat
import sys
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_store_cli_engines import EngineCases, PostgresqlDatabase, SqliteDatabase, run  # noqa: E402

DAY = 86400


class LifecycleCases:
    """The cases; a subclass sets Database. The helpers are those of the engines test."""
    Database = None
    setUp = EngineCases.setUp
    tearDown = EngineCases.tearDown
    clean = EngineCases.clean
    ok = EngineCases.ok
    js = EngineCases.js
    state = EngineCases.state
    refused = EngineCases.refused

    def audit_row(self, at, message_id, verdict="allow"):
        self.store.sql(
            "INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, "
            f"intent, task_id, verdict, reason) VALUES ({int(at)}, '{message_id}', '', '', 'a@partner.example', "
            f"'a@partner.example', 'agent@example.net', 'task.dispatch', 't-1', '{verdict}', 'a reason')")

    def outbox_row(self, message_id, created, sent=None, abandoned=None, attempts=0, error=""):
        def v(x):
            return "NULL" if x is None else str(int(x))
        self.store.sql(
            "INSERT INTO outbox (message_id, from_addr, to_addr, task_id, status, error_msg, in_reply_to, "
            "created_at, attempts, next_attempt_at, sent_at, abandoned_at, last_error) VALUES "
            f"('{message_id}', 'agent@example.net', 'requester@partner.example', 'task-{message_id[1:3]}', "
            f"'completed', '', '', {int(created)}, {attempts}, {int(created)}, {v(sent)}, {v(abandoned)}, '{error}')")
        return int(self.store.sql(f"SELECT id FROM outbox WHERE message_id = '{message_id}'"))

    def ids(self, table):
        return [int(x) for x in self.store.sql(f"SELECT id FROM {table} ORDER BY id").split()]

    # --- audit prune --------------------------------------------------------------------

    def test_audit_prune_removes_old_rows_and_finished_replies_only(self):
        now = time.time()
        self.audit_row(now - 100 * DAY, "<old1>")
        self.audit_row(now - 91 * DAY, "<old2>")
        self.audit_row(now - 89 * DAY, "<young>")
        self.audit_row(now - 10, "<new>")
        sent_old = self.outbox_row("<s1@x>", now - 100 * DAY, sent=now - 99 * DAY, attempts=1)
        gave_up_old = self.outbox_row("<a1@x>", now - 100 * DAY, abandoned=now - 95 * DAY, attempts=12)
        pending_old = self.outbox_row("<p1@x>", now - 100 * DAY, attempts=3)
        sent_new = self.outbox_row("<s2@x>", now - 100 * DAY, sent=now - 5, attempts=1)
        out = self.js("audit", "prune", "--before", "90d")
        self.assertEqual((out["audit"], out["outbox"]), (2, 2))
        self.assertTrue(out["before"].endswith("Z"), out)
        self.assertEqual(self.store.sql("SELECT message_id FROM audit ORDER BY id").split(), ["<young>", "<new>"])
        self.assertEqual(self.ids("outbox"), [pending_old, sent_new])
        self.assertNotIn(sent_old, self.ids("outbox"))
        self.assertNotIn(gave_up_old, self.ids("outbox"))
        # Again: nothing left to remove. Text output says how many.
        self.assertIn("removed 0 audit rows and 0 sent or abandoned outbox rows from before",
                      self.ok("audit", "prune", "--before", "90d").stdout)
        # An RFC 3339 time in the future removes every audit row and the sent reply, never the pending one.
        future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + DAY))
        out = self.js("audit", "prune", "--before", future)
        self.assertEqual((out["audit"], out["outbox"], out["before"]), (2, 1, future))
        self.assertEqual(self.ids("outbox"), [pending_old])
        self.assertEqual(self.store.sql("SELECT count(*) FROM audit"), "0")

    def test_audit_prune_in_batches_removes_everything_old(self):
        # More rows than one batch (store/admin.hpp kPruneBatch = 500).
        old = int(time.time()) - 10 * DAY
        self.store.sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1234) "
            "INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, "
            "intent, task_id, verdict, reason) "
            f"SELECT {old} + i, 'q', '', '', '', 'a@b.c', 'agent@example.net', '', '', 'allow', 'r' FROM n")
        self.audit_row(time.time(), "<kept>")
        out = self.js("audit", "prune", "--before", "1d")
        self.assertEqual(out["audit"], 1234)
        self.assertEqual(self.store.sql("SELECT message_id FROM audit"), "<kept>")

    def test_audit_prune_usage_errors_change_nothing(self):
        self.audit_row(time.time() - 100 * DAY, "<old>")
        for args, want in [
            (["audit", "prune"], "audit prune needs --before"),
            (["audit", "prune", "--before", "90d", "--limit", "3"], "audit prune takes --before only"),
            (["audit", "prune", "--before", "soon"], "--before 'soon'"),
            (["audit", "--before", "90d"], "--before belongs to audit prune"),
            (["audit", "prune", "--before", "90d", "extra"], "unexpected argument 'extra'"),
        ]:
            with self.subTest(args=args):
                self.refused(args, want)

    # --- outbox -------------------------------------------------------------------------

    def test_outbox_list_retry_drop(self):
        now = time.time()
        sent = self.outbox_row("<s@x>", now - 3600, sent=now - 3500, attempts=1)
        gave_up = self.outbox_row("<a@x>", now - 2 * DAY, abandoned=now - DAY, attempts=12,
                                  error="SSL certificate problem: self-signed certificate")
        pending = self.outbox_row("<p@x>", now - 600, attempts=2, error="451 4.3.0 try\tlater")
        listed = self.js("outbox", "list")
        self.assertEqual([(r["id"], r["state"]) for r in listed],
                         [(sent, "sent"), (gave_up, "abandoned"), (pending, "pending")])
        row = listed[2]
        self.assertEqual((row["attempts"], row["recipient"], row["messageId"], row["status"]),
                         (2, "requester@partner.example", "<p@x>", "completed"))
        self.assertEqual(row["lastError"], "451 4.3.0 try later")  # the TAB through text_safety
        self.assertIsNotNone(row["nextAttemptAt"])
        self.assertIsNone(listed[0]["nextAttemptAt"])
        self.assertIsNotNone(listed[0]["sentAt"])
        self.assertIsNotNone(listed[1]["abandonedAt"])
        for key in ("id", "state", "messageId", "from", "recipient", "taskId", "status", "attempts", "createdAt",
                    "nextAttemptAt", "sentAt", "abandonedAt", "lastError"):
            self.assertIn(key, row)
        self.assertEqual([r["id"] for r in self.js("outbox", "list", "--state", "abandoned")], [gave_up])
        self.assertEqual([r["id"] for r in self.js("outbox", "list", "--state", "pending")], [pending])
        table = self.ok("outbox", "list").stdout.splitlines()
        self.assertEqual(table[0].split(), ["ID", "STATE", "ATTEMPTS", "NEXT", "ATTEMPT", "RECIPIENT", "STATUS",
                                            "CREATED", "LAST", "ERROR"])
        self.assertEqual(len(table), 4)
        self.assertIn("self-signed certificate", table[2])

        # retry: the abandoned reply is pending again, due now, attempts from 0.
        before = time.time()
        out = self.js("outbox", "retry", str(gave_up))
        self.assertEqual((out["id"], out["state"], out["attempts"], out["lastError"], out["abandonedAt"]),
                         (gave_up, "pending", 0, "", None))
        due = int(self.store.sql(f"SELECT next_attempt_at FROM outbox WHERE id = {gave_up}"))
        self.assertGreaterEqual(due, int(before))
        self.assertLessEqual(due, int(time.time()) + 1)
        self.assertIn(f"reply {pending} to requester@partner.example is due now",
                      self.ok("outbox", "retry", str(pending)).stdout)

        # drop: the pending reply is abandoned, with who did it, and the trail says so.
        out = self.js("outbox", "drop", str(pending))
        self.assertEqual(out["state"], "abandoned")
        self.assertTrue(out["lastError"].startswith("dropped by "), out)
        trail = self.js("audit", "--verdict", "reply-abandoned")
        self.assertEqual(len(trail), 1)
        self.assertEqual((trail[0]["messageId"], trail[0]["recipient"], trail[0]["intent"]),
                         ("<p@x>", "requester@partner.example", "pair.respond"))
        self.assertTrue(trail[0]["reason"].startswith("dropped by "))

        for args, want in [
            (["outbox", "retry", str(sent)], f"reply {sent} was sent already"),
            (["outbox", "drop", str(pending)], f"reply {pending} is abandoned already"),
            (["outbox", "drop", str(sent)], f"reply {sent} is sent already"),
            (["outbox", "retry", "9999"], "no reply with id 9999 in the outbox"),
            (["outbox", "drop", "9999"], "no reply with id 9999 in the outbox"),
            (["outbox", "retry", "x"], "reply id"),
            (["outbox", "retry"], "missing reply id"),
            (["outbox", "list", "--state", "stuck"], "--state 'stuck': expected pending, sent or abandoned"),
            (["outbox", "resend", "1"], "unknown outbox command 'resend'"),
        ]:
            with self.subTest(args=args):
                self.refused(args, want)


class SqliteLifecycleTest(LifecycleCases, unittest.TestCase):
    Database = SqliteDatabase

    def test_backup_is_a_private_consistent_copy(self):
        self.ok("mailbox", "add", "agent@example.net")
        self.ok("sender", "allow", "--mailbox", "agent@example.net", "@partner.example")
        self.audit_row(time.time(), "<a>")
        copy = os.path.join(self.tmp.name, "copy.db")
        out = self.js("backup", copy)
        self.assertEqual((out["file"], out["database"]), (copy, self.db))
        self.assertEqual(stat.S_IMODE(os.stat(copy).st_mode), 0o600)
        # The copy is an aamp-milter database at the same schema with the same rows.
        self.assertIn("up to date", self.ok("migrate", db=copy).stdout)
        self.assertEqual(self.ok("export", db=copy).stdout, self.ok("export").stdout)
        self.assertEqual(self.js("audit"), json.loads(self.ok("--json", "audit", db=copy).stdout))
        con = sqlite3.connect(copy)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        con.close()
        # An existing file is kept unless --force; the database itself never.
        self.refused(["backup", copy], "exists; give --force to replace it")
        self.ok("mailbox", "add", "@example.org")
        self.ok("backup", copy, "--force")
        self.assertEqual(stat.S_IMODE(os.stat(copy).st_mode), 0o600)
        self.assertEqual(len(json.loads(self.ok("--json", "mailbox", "list", db=copy).stdout)), 2)
        self.refused(["backup", self.db, "--force"], "is the database itself")
        self.refused(["backup"], "missing backup file")
        self.refused(["backup", os.path.join(self.tmp.name, "no-such-dir", "x.db")], "cannot create a file in")
        leftovers = [n for n in os.listdir(self.tmp.name) if n.startswith(".aampctl-backup-")]
        self.assertEqual(leftovers, [])


class PostgresqlLifecycleTest(LifecycleCases, unittest.TestCase):
    Database = PostgresqlDatabase

    def test_backup_points_to_pg_dump(self):
        copy = os.path.join(self.tmp.name, "copy.db")
        self.refused(["backup", copy], "for PostgreSQL use pg_dump")
        self.assertFalse(os.path.exists(copy))


if __name__ == "__main__":
    unittest.main()
