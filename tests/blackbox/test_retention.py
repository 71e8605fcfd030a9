"""test_retention.py — AuditRetention as the real daemon applies it (docs/configuration.md,
docs/operations.md "Retention"): at start and then periodically it removes audit rows, and
sent or abandoned outbox rows, older than the retention — never a pending reply — and logs
the counts; rows it wrote itself go too once they are old enough. On PostgreSQL two
daemons sharing a database prune at once harmlessly: together they remove each old row
exactly once. A deliberately short retention (seconds) keeps the test quick; every wait
has a deadline, nothing depends on timing.

Environment: AAMP_MILTER, AAMPCTL; miltertest; PostgreSQL 15 binaries (tests/pg_cluster.py).
"""
import itertools
import pathlib
import re
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import pg_cluster  # noqa: E402
from milter_harness import PATIENCE, Milter, PolicyDb, Transaction, aamp_headers, wait_until  # noqa: E402

DAY = 86400
_names = itertools.count(1)
PRUNED = re.compile(r"pruned (\d+) audit rows and (\d+) sent or abandoned outbox rows older than AuditRetention")


def audit_insert(at, message_id):
    return ("INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, "
            f"intent, task_id, verdict, reason) VALUES ({int(at)}, '{message_id}', '', '', '', 'old@partner.test', "
            "'agent@example.test', 'task.dispatch', 't', 'allow', 'old row')")


def outbox_insert(message_id, created, due, sent=None, abandoned=None):
    def v(x):
        return "NULL" if x is None else str(int(x))
    return ("INSERT INTO outbox (message_id, from_addr, to_addr, task_id, status, created_at, attempts, "
            f"next_attempt_at, sent_at, abandoned_at) VALUES ('{message_id}', 'agent@example.test', "
            f"'req@partner.test', 't', 'completed', {int(created)}, 1, {int(due)}, {v(sent)}, {v(abandoned)})")


class RetentionCases:
    def database(self):
        """(database for the milter or None for its own SQLite file, sql(query) -> text)."""
        raise NotImplementedError

    def seed(self, sql):
        now = time.time()
        sql(audit_insert(now - 40 * DAY, "<old-1>"))
        sql(audit_insert(now - 30 * DAY, "<old-2>"))
        sql(outbox_insert("<sent@x>", now - 40 * DAY, now - 40 * DAY, sent=now - 39 * DAY))
        sql(outbox_insert("<gone@x>", now - 40 * DAY, now - 40 * DAY, abandoned=now - 38 * DAY))
        # Pending, and due only in ten days: the reply worker leaves it alone, pruning must too.
        sql(outbox_insert("<pending@x>", now, now + 10 * DAY))

    def test_the_daemon_prunes_old_rows_at_start_and_then_what_it_wrote(self):
        database, sql = self.database()
        m = Milter("AuditRetention 3s\n", database=database)
        self.addCleanup(m.close)
        if database is None:
            sql = self.sqlite_sql(m.database)
        self.seed(sql)
        db = PolicyDb(database) if database else m.db  # a connection string is no Path
        db.add_mailbox("agent@example.test")
        db.allow("agent@example.test", "alice@example.test")
        m.start()
        log = m.wait_log("pruned 2 audit rows and 2 sent or abandoned outbox rows older than AuditRetention (3 s)")
        self.assertEqual(sql("SELECT count(*) FROM audit"), "0", log)
        self.assertEqual(sql("SELECT message_id FROM outbox"), "<pending@x>")

        # A decision the daemon records now is pruned by a later pass, once 3 s old.
        m.run(Transaction(headers=aamp_headers(task_id="task-retention")))
        wait_until(lambda: sql("SELECT count(*) FROM audit WHERE task_id = 'task-retention'") == "1", PATIENCE,
                   "the decision's audit row")
        wait_until(lambda: sql("SELECT count(*) FROM audit") == "0", PATIENCE + 10, "the new audit row to be pruned")
        self.assertEqual(sql("SELECT message_id FROM outbox"), "<pending@x>")
        self.assertTrue(any(int(a) >= 1 for a, _ in PRUNED.findall(m.log()[len(log):])), m.log())

    def test_off_prunes_nothing_until_a_reload_sets_a_retention(self):
        database, sql = self.database()
        m = Milter("AuditRetention off\n", database=database)
        self.addCleanup(m.close)
        if database is None:
            sql = self.sqlite_sql(m.database)
        self.seed(sql)
        m.start()
        self.assertEqual(sql("SELECT count(*) FROM audit"), "2")
        self.assertEqual(sql("SELECT count(*) FROM outbox"), "3")
        m.write_config(m.config_text.replace("AuditRetention off", "AuditRetention 7d"))
        m.signal(signal.SIGUSR1)
        # The reload wakes the pruner: a pass at once, not an hour later.
        m.wait_log("pruned 2 audit rows and 2 sent or abandoned outbox rows older than AuditRetention (604800 s)")
        self.assertEqual(sql("SELECT count(*) FROM audit"), "0")
        self.assertEqual(sql("SELECT message_id FROM outbox"), "<pending@x>")


class SqliteRetentionTest(RetentionCases, unittest.TestCase):
    def database(self):
        return None, None

    @staticmethod
    def sqlite_sql(path):
        def sql(query):
            con = sqlite3.connect(path, timeout=30)
            try:
                rows = con.execute(query).fetchall()
                con.commit()
                return "\n".join("|".join("" if v is None else str(v) for v in r) for r in rows)
            finally:
                con.close()
        return sql


class PostgresqlRetentionTest(RetentionCases, unittest.TestCase):
    def database(self):
        pg = pg_cluster.shared()
        name = f"retention_{next(_names)}"
        pg.superuser_sql(f"CREATE DATABASE {name} OWNER aamp", database="postgres")
        url = pg.url[: -len("aamp")] + name
        PolicyDb(url).ctl("init")
        return url, lambda q: pg.superuser_sql(q, database=name)

    def test_two_daemons_prune_one_database_at_once(self):
        url, sql = self.database()
        now = int(time.time())
        sql("INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, "
            "intent, task_id, verdict, reason) "
            f"SELECT {now - 40 * DAY} + i, 'q', '', '', '', 'a@b.c', 'agent@example.test', '', '', 'allow', 'r' "
            "FROM generate_series(1, 2345) AS i")
        sql(audit_insert(now, "<recent>"))
        milters = [Milter("AuditRetention 7d\n", database=url) for _ in range(2)]
        for m in milters:
            self.addCleanup(m.close)
        for m in milters:
            m.start()
        wait_until(lambda: sql("SELECT count(*) FROM audit") == "1", PATIENCE, "the old rows to be pruned")
        self.assertEqual(sql("SELECT message_id FROM audit"), "<recent>")

        def logged():
            return sum(int(a) for m in milters for a, _ in PRUNED.findall(m.log()))
        # Each row was removed once: what the two logged adds up to what there was.
        wait_until(lambda: logged() == 2345, PATIENCE, "both daemons' prune lines")
        for m in milters:
            self.assertNotIn("pruning failed", m.log())


if __name__ == "__main__":
    unittest.main()
