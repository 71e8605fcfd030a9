"""test_store_cli_engines.py — the database commands of aampctl (init, migrate, mailbox,
sender, pair, audit, explain, check) run the same on both engines: one test class written
once, run on a SQLite file and on a PostgreSQL database of a throwaway cluster
(tests/pg_cluster.py). On PostgreSQL every output and error is also checked for the
connection string's password: it never appears (init names the database with ***).
test_store_cli.py holds the SQLite-only details (file modes, journal mode, garbage files).

Environment: AAMPCTL (the binary under test). PostgreSQL 15 binaries (tests/pg_cluster.py).
"""
import itertools
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import pg_cluster  # noqa: E402

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")
_names = itertools.count(1)


def run(*args, db=None):
    argv = [AAMPCTL] + (["--db", db] if db else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


class SqliteDatabase:
    password = None

    def __init__(self, tmp):
        self.db = os.path.join(tmp, "policy.db")
        self.shown = self.db

    def sql(self, query):
        """Runs one statement; its rows as text lines 'a|b' (as psql -At prints them)."""
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(query).fetchall()
            con.commit()
            return "\n".join("|".join("" if v is None else str(v) for v in r) for r in rows)
        finally:
            con.close()


class PostgresqlDatabase:
    password = pg_cluster.PASSWORD

    def __init__(self, tmp):
        self.pg = pg_cluster.shared()
        self.name = f"engines_{os.getpid()}_{next(_names)}"
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.dir, "-p", str(self.pg.port),
                        "-U", "postgres", "-d", "postgres", "-c", f"CREATE DATABASE {self.name} OWNER aamp"],
                       check=True, capture_output=True, text=True, timeout=60)
        self.db = self.pg.url[: -len("aamp")] + self.name
        self.shown = self.db.replace(self.password, "***")

    def sql(self, query):
        return self.pg.superuser_sql(query, database=self.name)


class EngineCases:
    """The cases; a subclass sets Database."""
    Database = None

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-engines-")
        self.store = self.Database(self.tmp.name)
        self.db = self.store.db
        out = self.ok("init").stdout
        self.assertIn(f"{self.store.shown}: initialised at schema version", out)

    def tearDown(self):
        self.tmp.cleanup()

    def clean(self, p):
        if self.store.password:
            self.assertNotIn(self.store.password, p.stdout + p.stderr, "the password reached aampctl's output")
        return p

    def ok(self, *args, db=None):
        p = self.clean(run(*args, db=db or self.db))
        self.assertEqual(p.returncode, 0, f"{args}\n{p.stdout}\n{p.stderr}")
        return p

    def js(self, *args):
        return json.loads(self.ok("--json", *args).stdout)

    def state(self):
        """Everything an operator's command may change, as text."""
        return [self.store.sql(f"SELECT * FROM {t} ORDER BY 1") for t in
                ("mailboxes", "sender_rules", "pair_codes", "pair_lockouts", "audit", "outbox")]

    def refused(self, args, want):
        before = self.state()
        p = self.clean(run(*args, db=self.db))
        self.assertEqual(p.returncode, 2, f"{args}: {p.stdout} {p.stderr}")
        self.assertTrue(p.stderr.startswith("aampctl: "), p.stderr)
        self.assertIn(want, p.stderr, args)
        self.assertEqual(p.stdout, "", args)
        self.assertEqual(self.state(), before, f"{args}: rows changed")

    def test_init_and_migrate(self):
        self.assertIn(f"{self.store.shown}: schema version", self.ok("init").stdout)
        self.assertIn("up to date", self.ok("migrate").stdout)
        out = self.js("migrate")
        self.assertEqual(out["path"], self.store.shown)
        self.assertEqual(out["from"], out["to"])
        self.assertGreaterEqual(out["to"], 5)

    def test_mailbox_add_set_list_remove(self):
        out = self.js("mailbox", "add", "Agent@Example.COM", "--mode", "report", "--note", "first")
        self.assertEqual((out["address"], out["mode"], out["note"]), ("agent@example.com", "report", "first"))
        self.ok("mailbox", "add", "@example.org", "--trust", "auth,authres", "--intents", "task.dispatch")
        self.ok("mailbox", "add", "*@example.net", "--trust", "none", "--intents", "none")
        changed = self.js("mailbox", "set", "agent@example.com", "--mode", "enforce", "--trust", "internal")
        self.assertEqual((changed["mode"], changed["trust"], changed["note"]), ("enforce", ["internal"], "first"))
        listed = {m["address"]: m for m in self.js("mailbox", "list")}
        self.assertEqual(set(listed), {"agent@example.com", "@example.org", "@example.net"})
        self.assertEqual(listed["@example.org"]["trust"], ["auth", "authres"])
        self.assertEqual(listed["@example.net"]["intents"], [])
        self.ok("sender", "allow", "--mailbox", "@example.org", "@partner.com")
        self.ok("pair", "issue", "--mailbox", "bot@example.org")
        removed = self.js("mailbox", "remove", "@example.org")
        self.assertEqual((removed["rules"], removed["pairCodes"]), (1, 1))
        self.assertEqual(self.store.sql("SELECT count(*) FROM sender_rules"), "0")
        self.assertEqual(self.store.sql("SELECT count(*) FROM pair_codes"), "0")
        self.assertEqual(len(self.js("mailbox", "list")), 2)

    def test_sender_allow_list_remove(self):
        self.ok("mailbox", "add", "agent@example.com")
        self.ok("mailbox", "add", "@example.org")
        r1 = self.js("sender", "allow", "--mailbox", "agent@example.com", "Alice@Partner.com")
        self.assertEqual((r1["pattern"], r1["kind"], r1["origin"]), ("alice@partner.com", "exact", "configured"))
        r2 = self.js("sender", "allow", "--mailbox", "agent@example.com", "*@partner.com",
                     "--context", "source=github,feishu", "--context", "env=prod", "--note", "CI bots")
        self.assertEqual((r2["pattern"], r2["kind"]), ("@partner.com", "domain"))
        self.assertEqual(r2["context"], {"source": ["github", "feishu"], "env": ["prod"]})
        r3 = self.js("sender", "allow", "--mailbox", "@example.org", "ci-*@partner.com",
                     "--context-json", '{"team":["a b","c,d"]}')
        self.assertEqual(r3["kind"], "wildcard")
        self.assertEqual([r["id"] for r in self.js("sender", "list")], [r1["id"], r2["id"], r3["id"]])
        self.assertEqual([r["id"] for r in self.js("sender", "list", "--mailbox", "@example.org")], [r3["id"]])
        self.assertEqual(self.js("sender", "remove", str(r2["id"]))["pattern"], "@partner.com")
        self.assertEqual([r["id"] for r in self.js("sender", "list")], [r1["id"], r3["id"]])
        self.refused(["sender", "allow", "--mailbox", "agent@example.com", "alice@partner.com"], "same context already")
        self.refused(["sender", "allow", "--mailbox", "bot@example.org", "a@b.c"], "covered by @example.org")
        self.refused(["sender", "remove", "999"], "no sender rule 999")

    def test_pair_issue_list_revoke(self):
        self.ok("mailbox", "add", "agent@example.com")
        self.ok("mailbox", "add", "@example.com")
        issued = self.js("pair", "issue", "--mailbox", "agent@example.com", "--ttl", "10m", "--rules", "source=github")
        bound = self.js("pair", "issue", "--mailbox", "Bot@Example.com")
        used = self.js("pair", "issue", "--mailbox", "agent@example.com")
        self.store.sql(f"UPDATE pair_codes SET consumed_at = created_at, consumed_by = 'x@y.z' WHERE id = {used['id']}")
        revoked = self.js("pair", "revoke", str(issued["id"]))
        self.assertEqual(revoked["state"], "revoked")
        listed = {c["id"]: c for c in self.js("pair", "list")}
        self.assertEqual({i: c["state"] for i, c in listed.items()},
                         {issued["id"]: "revoked", bound["id"]: "live", used["id"]: "used"})
        self.assertEqual(listed[bound["id"]]["address"], "bot@example.com")
        self.assertEqual(listed[issued["id"]]["rules"], {"source": ["github"]})
        text = self.ok("pair", "list").stdout + self.ok("--json", "pair", "list").stdout
        for code in (issued["code"], bound["code"], used["code"]):
            self.assertNotIn(code, text)
        self.refused(["pair", "revoke", str(issued["id"])], "revoked already")
        self.refused(["pair", "revoke", str(used["id"])], "used already")
        self.refused(["pair", "issue", "--mailbox", "nobody@example.net"], "not a protected mailbox")

    def add_audit(self, at, verdict, recipient, sender):
        self.store.sql("INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, "
                       f"recipient, intent, task_id, verdict, reason) VALUES ({at}, 'Q1', '192.0.2.1', '', "
                       f"'{sender}', '{sender}', '{recipient}', 'task.dispatch', 't', '{verdict}', 'because')")

    def test_audit(self):
        now = int(time.time())
        self.add_audit(now - 7200, "allow", "agent@example.com", "alice@partner.com")
        self.add_audit(now - 1800, "deny", "agent@example.com", "eve@evil.net")
        self.add_audit(now - 60, "allow", "bot@example.org", "bob@partner.com")
        self.add_audit(now - 10, "pair-completed", "Agent@Example.com", "carol@partner.com")

        def ids(*args):
            return [r["id"] for r in self.js("audit", *args)]

        self.assertEqual(ids(), [1, 2, 3, 4])
        self.assertEqual(ids("--since", "1h"), [2, 3, 4])
        self.assertEqual(ids("--mailbox", "agent@example.com"), [1, 2, 4])
        self.assertEqual(ids("--mailbox", "@example.org"), [3])
        self.assertEqual(ids("--sender", "@partner.com"), [1, 3, 4])
        self.assertEqual(ids("--verdict", "allow"), [1, 3])
        self.assertEqual(ids("--verdict", "allow", "--sender", "@partner.com", "--since", "1h"), [3])
        self.assertEqual(ids("--limit", "2"), [3, 4])
        self.assertEqual(ids("--limit", "0", "--mailbox", "@example.com"), [1, 2, 4])
        lines = self.ok("audit", "export", "--sender", "@partner.com").stdout.splitlines()
        self.assertEqual([json.loads(line)["id"] for line in lines], [1, 3, 4])
        self.assertIn("pair-completed", self.ok("audit").stdout)

    def eml(self, text):
        path = os.path.join(self.tmp.name, f"m{len(os.listdir(self.tmp.name))}.eml")
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def test_explain_and_check(self):
        self.ok("mailbox", "add", "agent@example.net")
        self.ok("sender", "allow", "--mailbox", "agent@example.net", "alice@example.com", "--context", "env=prod")
        code = self.js("pair", "issue", "--mailbox", "agent@example.net")["code"]
        self.assertEqual(self.clean(run("explain", "--from", "alice@example.com", "--to", "agent@example.net",
                                        "--context", "env=prod", db=self.db)).returncode, 0)
        self.assertEqual(self.clean(run("explain", "--from", "carol@example.com", "--to", "agent@example.net",
                                        db=self.db)).returncode, 1)

        def mail(intent, sender, extra=()):
            lines = [f"From: <{sender}>", "To: agent@example.net", "Subject: t", "Message-ID: <c1@example.com>",
                     "X-AAMP-Version: 1.1", f"X-AAMP-Intent: {intent}", "X-AAMP-TaskId: task-1"] + list(extra)
            return "\r\n".join(lines) + "\r\n\r\nbody\r\n"

        def check(text, auth):
            p = self.clean(run("--json", "check", self.eml(text), "--rcpt", "agent@example.net", "--auth-user", auth,
                               db=self.db))
            return json.loads(p.stdout)

        before = self.state()
        self.assertEqual(check(mail("task.dispatch", "carol@example.com"), "carol@example.com")["verdict"], "reject")
        pair = mail("pair.request", "newbie@example.org", [f"X-AAMP-Pair-Code: {code}"])
        self.assertEqual(check(pair, "newbie@example.org")["policyVerdict"], "pair-completed")
        self.assertEqual(check(pair, "newbie@example.org")["policyVerdict"], "pair-completed", "check changed the code")
        self.assertEqual(self.state(), before, "check must not change the database")

    def test_bad_input_changes_nothing(self):
        self.ok("mailbox", "add", "agent@example.com")
        for args, want in [
            (["mailbox", "add", "agent@example.com"], "exists already"),
            (["mailbox", "set", "nobody@example.com", "--mode", "off"], "no mailbox nobody@example.com"),
            (["mailbox", "remove", "nobody@example.com"], "no mailbox nobody@example.com"),
            (["sender", "allow", "--mailbox", "nobody@example.com", "a@b.c"], "no mailbox nobody@example.com"),
            (["sender", "list", "--mailbox", "nobody@example.com"], "no mailbox nobody@example.com"),
            (["pair", "revoke", "999"], "no pair code 999"),
            (["mailbox", "add", "new@example.com", "--mode", "block"], "not one of enforce, report, off"),
        ]:
            with self.subTest(args=args):
                self.refused(args, want)


class SqliteEnginesTest(EngineCases, unittest.TestCase):
    Database = SqliteDatabase


class PostgresqlEnginesTest(EngineCases, unittest.TestCase):
    Database = PostgresqlDatabase

    def test_the_password_never_shows(self):
        pg = self.store.pg
        wrong = self.db.replace(pg.password, "wrong-pw-123")
        down = self.db.replace(f":{pg.port}/", ":1/")
        for db, args in [(wrong, ["mailbox", "list"]), (wrong, ["init"]), (down, ["migrate"]),
                         (down, ["--json", "pair", "list"]), (self.db + "?sslmode=bogus", ["audit"])]:
            with self.subTest(db=db.replace(pg.password, "***"), args=args):
                p = run(*args, db=db)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertNotIn(pg.password, p.stdout + p.stderr)
                self.assertNotIn("wrong-pw-123", p.stdout + p.stderr)
                self.assertIn("***", p.stderr)
        # libpq's keyword form: the password is hidden there too.
        keywords = f"host=127.0.0.1 port={pg.port} dbname={self.store.name} user=aamp password={pg.password}"
        p = self.clean(run("init", db=keywords))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("***", p.stdout)
        p = self.clean(run("mailbox", "remove", "nobody@example.com", db=keywords.replace(pg.password, "nope-pw")))
        self.assertEqual(p.returncode, 2)
        self.assertNotIn("nope-pw", p.stderr)


if __name__ == "__main__":
    unittest.main()
