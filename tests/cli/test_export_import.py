"""test_export_import.py — `aampctl export` and `aampctl import` with the real binary, on
SQLite and on a throwaway PostgreSQL 15 cluster (tests/pg_cluster.py): the document holds
all policy and nothing else (no audit rows, no outbox, no used/revoked/expired codes, no
pair code itself), two exports of one policy are byte-identical on either engine, a round
trip SQLite -> SQLite and SQLite -> PostgreSQL (-> SQLite) gives the same document, a
code issued on SQLite is redeemable on PostgreSQL without reissuing it, importing again
changes nothing, conflicts follow the documented rule, and a malformed document is refused
(exit 2, the bad field named) with nothing written.

Environment: AAMPCTL (the binary under test). PostgreSQL 15 binaries (tests/pg_cluster.py).
"""
import copy
import hashlib
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


def run(*args, db=None, stdin=None):
    argv = [AAMPCTL] + (["--db", db] if db else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, input=stdin)


def new_pg_database():
    """A fresh PostgreSQL database owned by aamp on the shared cluster; its URL."""
    pg = pg_cluster.shared()
    name = f"export_{os.getpid()}_{next(_names)}"
    # Not superuser_sql: CREATE DATABASE cannot run in the transaction its script makes.
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.dir, "-p", str(pg.port), "-U", "postgres",
                    "-d", "postgres", "-c", f"CREATE DATABASE {name} OWNER aamp"],
                   check=True, capture_output=True, text=True, timeout=60)
    assert pg.url.endswith("/aamp"), pg.url
    return pg.url[: -len("aamp")] + name, name


def mail(intent, sender, rcpt, extra=()):
    lines = [f"From: <{sender}>", f"To: <{rcpt}>", "Subject: test", "Message-ID: <export-1@example.com>",
             "X-AAMP-Version: 1.1", f"X-AAMP-Intent: {intent}", "X-AAMP-TaskId: task-1"] + list(extra)
    return "\r\n".join(lines) + "\r\n\r\nbody\r\n"


class ExportImportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-export-")
        self.src = self.path("source.db")
        self.ok("init", db=self.src)
        self.policy = self.populate(self.src)

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def ok(self, *args, db, stdin=None):
        p = run(*args, db=db, stdin=stdin)
        self.assertEqual(p.returncode, 0, f"{args}\n{p.stdout}\n{p.stderr}")
        if db.startswith("postgresql://"):
            self.assertNotIn(pg_cluster.PASSWORD, p.stdout + p.stderr)
        return p

    def js(self, *args, db):
        return json.loads(self.ok("--json", *args, db=db).stdout)

    def sqlite(self, db, query, params=()):
        con = sqlite3.connect(db)
        try:
            rows = con.execute(query, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def populate(self, db):
        """Every kind of policy row, and rows an export must leave out."""
        self.ok("mailbox", "add", "agent@example.com", "--note", "the CI agent", db=db)
        self.ok("mailbox", "add", "@example.org", "--mode", "report", "--trust", "auth,authres",
                "--intents", "task.dispatch", db=db)
        self.ok("mailbox", "add", "quiet@example.com", "--mode", "off", "--trust", "none", "--intents", "none", db=db)
        self.ok("sender", "allow", "--mailbox", "agent@example.com", "alice@partner.com", db=db)
        self.ok("sender", "allow", "--mailbox", "agent@example.com", "*@partner.com", "--context",
                "source=github,feishu", "--context", "env=prod", "--note", "CI bots", db=db)
        self.ok("sender", "allow", "--mailbox", "agent@example.com", "*@partner.com", "--context", "env=dev", db=db)
        self.ok("sender", "allow", "--mailbox", "@example.org", "ci-*@partner.com", "--context-json",
                '{"team":["a b","c,d"]}', db=db)
        # A rule a pairing wrote (the milter's own statement shape).
        self.sqlite(db, "INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, "
                        "created_at, created_by, updated_at, note) VALUES (1, 'bob@remote.net', 'exact', "
                        "'{\"env\":[\"prod\"]}', 'paired', 1700000000, 'pair-code:7', 1700000100, '')")
        live = self.js("pair", "issue", "--mailbox", "agent@example.com", "--ttl", "2h", "--rules", "source=github",
                       "--note", "for bob", db=db)
        bound = self.js("pair", "issue", "--mailbox", "bot@example.org", "--ttl", "1d", db=db)
        used = self.js("pair", "issue", "--mailbox", "agent@example.com", db=db)
        revoked = self.js("pair", "issue", "--mailbox", "agent@example.com", db=db)
        expired = self.js("pair", "issue", "--mailbox", "agent@example.com", db=db)
        self.sqlite(db, "UPDATE pair_codes SET consumed_at = created_at, consumed_by = 'x@y.z' WHERE id = ?",
                    (used["id"],))
        self.ok("pair", "revoke", str(revoked["id"]), db=db)
        self.sqlite(db, "UPDATE pair_codes SET expires_at = created_at - 1 WHERE id = ?", (expired["id"],))
        future = int(time.time()) + 3600
        self.sqlite(db, "INSERT INTO pair_lockouts (mailbox_id, locked_at, until, failures) VALUES (1, 1700000000, ?, 10)",
                    (future,))
        self.sqlite(db, "INSERT INTO pair_lockouts (requester, locked_at, until, failures) "
                        "VALUES ('eve@evil.net', 1700000000, ?, 5), ('old@evil.net', 1600000000, 1600000900, 5)",
                    (future,))
        self.sqlite(db, "INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, "
                        "recipient, intent, task_id, verdict, reason) VALUES (1700000000, 'Q1', '', '', "
                        "'audit-only@x.net', 'audit-only@x.net', 'agent@example.com', 'task.dispatch', 't', "
                        "'deny', 'r')")
        self.sqlite(db, "INSERT INTO outbox (message_id, from_addr, to_addr, task_id, status, created_at, "
                        "next_attempt_at) VALUES ('<r1@x>', 'agent@example.com', 'outbox-only@x.net', 't', "
                        "'completed', 1700000000, 1700000000)")
        return {"live": live, "bound": bound, "used": used, "revoked": revoked, "expired": expired}

    def export(self, db, *args):
        return self.ok("export", *args, db=db).stdout

    def import_(self, db, doc):
        return json.loads(self.ok("--json", "import", "-", db=db, stdin=doc).stdout)

    @staticmethod
    def counts(summary, key):
        return [summary[kind][key] for kind in ("mailboxes", "senderRules", "pairCodes", "lockouts")]

    def sqlite_dump(self, db):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return list(con.iterdump())
        finally:
            con.close()

    # --- the document ------------------------------------------------------------------

    def test_the_document_holds_all_policy_and_nothing_else(self):
        text = self.export(self.src)
        self.assertEqual(text, self.export(self.src), "two exports of one policy differ")
        out = self.path("policy.json")
        self.ok("export", "-o", out, db=self.src)
        with open(out) as f:
            self.assertEqual(f.read(), text)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)

        doc = json.loads(text)
        self.assertEqual(list(doc), ["format", "version", "mailboxes", "senderRules", "pairCodes", "lockouts"])
        self.assertEqual((doc["format"], doc["version"]), ("aamp-milter-policy", 1))
        self.assertEqual([m["address"] for m in doc["mailboxes"]],
                         ["@example.org", "agent@example.com", "quiet@example.com"])
        org = doc["mailboxes"][0]
        self.assertEqual((org["mode"], org["intents"], org["trust"]), ("report", ["task.dispatch"], ["auth", "authres"]))
        self.assertEqual(doc["mailboxes"][2]["trust"], [])
        self.assertEqual(doc["mailboxes"][1]["note"], "the CI agent")
        self.assertEqual(set(org), {"address", "mode", "intents", "trust", "threadBinding", "unknownThreads", "note",
                                    "createdAt", "createdBy", "updatedAt"})

        rules = [(r["mailbox"], r["pattern"], r["origin"], r["context"]) for r in doc["senderRules"]]
        self.assertEqual(rules, [
            ("@example.org", "ci-*@partner.com", "configured", {"team": ["a b", "c,d"]}),
            ("agent@example.com", "@partner.com", "configured", {"env": ["dev"]}),
            ("agent@example.com", "@partner.com", "configured", {"env": ["prod"], "source": ["github", "feishu"]}),
            ("agent@example.com", "alice@partner.com", "configured", {}),
            ("agent@example.com", "bob@remote.net", "paired", {"env": ["prod"]}),
        ])
        paired = doc["senderRules"][4]
        self.assertEqual((paired["createdBy"], paired["createdAt"], paired["updatedAt"]),
                         ("pair-code:7", "2023-11-14T22:13:20Z", "2023-11-14T22:15:00Z"))

        def code_hash(code):
            return hashlib.sha256(b"aamp-pair-code-v1\0" + code.encode()).hexdigest()

        codes = {c["codeHash"]: c for c in doc["pairCodes"]}
        self.assertEqual(set(codes), {code_hash(self.policy["live"]["code"]), code_hash(self.policy["bound"]["code"])})
        live = codes[code_hash(self.policy["live"]["code"])]
        self.assertEqual((live["mailbox"], live["address"], live["rules"], live["note"], live["expiresAt"]),
                         ("agent@example.com", "agent@example.com", {"source": ["github"]}, "for bob",
                          self.policy["live"]["expiresAt"]))
        bound = codes[code_hash(self.policy["bound"]["code"])]
        self.assertEqual((bound["mailbox"], bound["address"]), ("@example.org", "bot@example.org"))
        for p in self.policy.values():
            self.assertNotIn(p["code"], text)

        self.assertEqual(doc["lockouts"], [
            {"mailbox": "agent@example.com", "lockedAt": "2023-11-14T22:13:20Z",
             "until": doc["lockouts"][0]["until"], "failures": 10},
            {"requester": "eve@evil.net", "lockedAt": "2023-11-14T22:13:20Z",
             "until": doc["lockouts"][0]["until"], "failures": 5},
        ])
        for absent in ("audit-only@x.net", "outbox-only@x.net", "old@evil.net", "x@y.z"):
            self.assertNotIn(absent, text)

    # --- round trips ---------------------------------------------------------------------

    def test_round_trip_sqlite_to_sqlite_and_again_changes_nothing(self):
        doc = self.export(self.src)
        dst = self.path("copy.db")
        self.ok("init", db=dst)
        first = self.import_(dst, doc)
        self.assertEqual(self.counts(first, "added"), [3, 5, 2, 2])
        self.assertEqual(self.export(dst), doc)
        before = self.sqlite_dump(dst)
        again = self.import_(dst, doc)
        self.assertEqual(self.counts(again, "unchanged"), [3, 5, 2, 2])
        self.assertEqual(self.counts(again, "added") + self.counts(again, "updated") + self.counts(again, "kept"),
                         [0] * 12)
        self.assertEqual(self.sqlite_dump(dst), before, "a second import wrote something")
        text = self.ok("import", "-", db=dst, stdin=doc).stdout
        self.assertIn("0 added, 0 updated, 3 unchanged, 0 kept", text)
        # From a file, too; and the audit trail and outbox of the source stay behind.
        path = self.path("policy.json")
        with open(path, "w") as f:
            f.write(doc)
        self.ok("import", path, db=dst)
        self.assertEqual(self.sqlite(dst, "SELECT count(*) FROM audit")[0][0], 0)
        self.assertEqual(self.sqlite(dst, "SELECT count(*) FROM outbox")[0][0], 0)

    def test_sqlite_to_postgresql_without_reissuing_codes(self):
        doc = self.export(self.src)
        url, name = new_pg_database()
        self.assertIn("postgresql://aamp:***@", self.ok("init", db=url).stdout)
        first = self.import_(url, doc)
        self.assertEqual(self.counts(first, "added"), [3, 5, 2, 2])
        self.assertNotIn(pg_cluster.PASSWORD, first["database"])
        self.assertEqual(self.export(url), doc, "PostgreSQL exports another document")
        again = self.import_(url, doc)
        self.assertEqual(self.counts(again, "unchanged"), [3, 5, 2, 2])
        self.assertEqual(self.export(url), doc)

        # The code issued on SQLite is live on PostgreSQL: the milter's decision (check)
        # completes the pairing with it, and the paired and configured rules decide there.
        states = {c["address"]: c["state"] for c in self.js("pair", "list", db=url)}
        self.assertEqual(states, {"agent@example.com": "live", "bot@example.org": "live"})
        eml = self.path("pair.eml")
        with open(eml, "w", newline="") as f:
            f.write(mail("pair.request", "newbie@example.net", "agent@example.com",
                         [f"X-AAMP-Pair-Code: {self.policy['live']['code']}"]))
        # The mailbox lockout came along: the pair.request is refused until it ends.
        p = run("--json", "check", eml, "--rcpt", "agent@example.com", "--auth-user", "newbie@example.net", db=url)
        self.assertEqual(json.loads(p.stdout)["policyVerdict"], "pair-locked", p.stdout)
        pg_cluster.shared().superuser_sql("DELETE FROM pair_lockouts WHERE mailbox_id IS NOT NULL", database=name)
        p = run("--json", "check", eml, "--rcpt", "agent@example.com", "--auth-user", "newbie@example.net", db=url)
        self.assertEqual(json.loads(p.stdout)["policyVerdict"], "pair-completed", p.stdout + p.stderr)
        explained = run("explain", "--from", "bob@remote.net", "--to", "agent@example.com", "--context", "env=prod",
                        db=url)
        self.assertIn("paired", explained.stdout)
        self.assertEqual(explained.returncode, 0, explained.stdout + explained.stderr)
        self.assertEqual(run("explain", "--from", "alice@partner.com", "--to", "agent@example.com",
                             db=url).returncode, 0)

        # And back: PostgreSQL -> SQLite gives the same document again.
        back = self.path("back.db")
        self.ok("init", db=back)
        self.import_(back, self.export(url))
        self.assertEqual(self.export(back), self.export(url))

    # --- conflicts -------------------------------------------------------------------------

    def test_conflicts_follow_the_documented_rule(self):
        doc = self.export(self.src)
        dst = self.path("busy.db")
        self.ok("init", db=dst)
        self.import_(dst, doc)
        # The target moves on: a mailbox changed, a rule of its own, the code used there,
        # a longer lockout there; and a mailbox lockout shorter than the file's.
        self.ok("mailbox", "set", "agent@example.com", "--mode", "report", db=dst)
        self.ok("sender", "allow", "--mailbox", "agent@example.com", "carol@partner.com", db=dst)
        live_hash = hashlib.sha256(b"aamp-pair-code-v1\0" + self.policy["live"]["code"].encode()).hexdigest()
        self.sqlite(dst, "UPDATE pair_codes SET consumed_at = created_at, consumed_by = 'newbie@example.net' "
                         "WHERE code_hash = ?", (live_hash,))
        self.sqlite(dst, "UPDATE pair_lockouts SET until = until + 86400 WHERE requester = 'eve@evil.net'")
        self.sqlite(dst, "UPDATE pair_lockouts SET until = until - 60 WHERE mailbox_id IS NOT NULL")
        self.sqlite(dst, "UPDATE sender_rules SET note = 'changed here' WHERE pattern = 'alice@partner.com'")

        summary = self.import_(dst, doc)
        self.assertEqual(summary["mailboxes"], {"added": 0, "updated": 1, "unchanged": 2, "kept": 0})
        self.assertEqual(summary["senderRules"], {"added": 0, "updated": 1, "unchanged": 4, "kept": 0})
        self.assertEqual(summary["pairCodes"], {"added": 0, "updated": 0, "unchanged": 1, "kept": 1})
        self.assertEqual(summary["lockouts"], {"added": 0, "updated": 1, "unchanged": 0, "kept": 1})
        modes = {m["address"]: m["mode"] for m in self.js("mailbox", "list", db=dst)}
        self.assertEqual(modes["agent@example.com"], "enforce", "the file wins for the mailboxes it names")
        patterns = [r["pattern"] for r in self.js("sender", "list", db=dst)]
        self.assertIn("carol@partner.com", patterns, "import never deletes a rule")
        notes = {r["pattern"]: r["note"] for r in self.js("sender", "list", db=dst)}
        self.assertEqual(notes["alice@partner.com"], "")
        [used] = [c for c in self.js("pair", "list", db=dst) if c["consumedBy"]]
        self.assertEqual(used["state"], "used", "a code used in the database is never revived")
        # Importing once more: all settled.
        settled = self.import_(dst, doc)
        self.assertEqual(self.counts(settled, "added") + self.counts(settled, "updated"), [0] * 8)

    # --- malformed documents ---------------------------------------------------------------

    def malformed_cases(self, doc):
        def edit(fn):
            d = copy.deepcopy(doc)
            fn(d)
            return json.dumps(d)

        return [
            ("not JSON", "{not json", "not a JSON document"),
            ("an array", "[]", "the document: is not a JSON object"),
            ("wrong format", edit(lambda d: d.update(format="something-else")), "format: is not"),
            ("newer version", edit(lambda d: d.update(version=2)), "version: this aampctl reads version 1 only"),
            ("unknown top field", edit(lambda d: d.update(extra=1)), "extra: unknown field"),
            ("missing list", edit(lambda d: d.pop("senderRules")), "senderRules: is missing"),
            ("bad mode", edit(lambda d: d["mailboxes"][1].update(mode="block")),
             "mailboxes[1].mode: 'block' is not one of enforce, report, off"),
            ("bad trust", edit(lambda d: d["mailboxes"][0].update(trust=["dkim"])), "mailboxes[0].trust: 'dkim'"),
            ("bad intent", edit(lambda d: d["mailboxes"][0].update(intents=["task.bogus"])),
             "mailboxes[0].intents: 'task.bogus' is not an AAMP intent"),
            ("misspelt field", edit(lambda d: d["mailboxes"][2].update(mdoe="off")), "mailboxes[2].mdoe: unknown field"),
            ("bad address", edit(lambda d: d["mailboxes"][2].update(address="a*@b.c")),
             "mailboxes[2]: 'a*@b.c' is not a mailbox address"),
            ("bad time", edit(lambda d: d["mailboxes"][0].update(createdAt="yesterday")),
             "mailboxes[0].createdAt: 'yesterday' is not an RFC 3339 time"),
            ("bad origin", edit(lambda d: d["senderRules"][0].update(origin="guessed")),
             "senderRules[0].origin: 'guessed' is not one of configured, paired"),
            ("bad pattern", edit(lambda d: d["senderRules"][1].update(pattern="a@b@c")),
             "senderRules[1]: 'a@b@c' is not a sender pattern"),
            ("bad context", edit(lambda d: d["senderRules"][1].update(context={"k": "v"})), "senderRules[1].context"),
            ("bad context key", edit(lambda d: d["senderRules"][1].update(context={"Bad Key": ["v"]})),
             "senderRules[1]"),
            ("duplicate rule", edit(lambda d: d["senderRules"].append(d["senderRules"][0])),
             "senderRules[5] has the same key as senderRules[0]"),
            ("duplicate mailbox", edit(lambda d: d["mailboxes"].append(dict(d["mailboxes"][0], note="x"))),
             "mailboxes[3] has the same key as mailboxes[0]"),
            ("rule of an unknown mailbox", edit(lambda d: d["senderRules"][4].update(mailbox="nobody@example.com")),
             "senderRules[4]: no mailbox nobody@example.com in the file or the database"),
            ("code of an unknown mailbox", edit(lambda d: d["pairCodes"][1].update(mailbox="nobody@example.com")),
             "pairCodes[1]: no mailbox nobody@example.com"),
            ("bad code hash", edit(lambda d: d["pairCodes"][0].update(codeHash="abc")),
             "pairCodes[0]: the code hash is not 64 lower-case hex digits"),
            ("a code, not a hash", edit(lambda d: d["pairCodes"][0].update(code="k6S_y7Ulw71G3GDG")),
             "pairCodes[0].code: unknown field"),
            ("lockout with both", edit(lambda d: d["lockouts"][1].update(mailbox="agent@example.com")),
             "lockouts[1]: give either \"mailbox\" or \"requester\""),
            ("negative failures", edit(lambda d: d["lockouts"][0].update(failures=-1)),
             "lockouts[0].failures: is not a whole number"),
        ]

    def test_malformed_documents_change_nothing(self):
        doc = json.loads(self.export(self.src))
        dst = self.path("target.db")
        self.ok("init", db=dst)
        self.ok("mailbox", "add", "other@example.net", db=dst)
        before = self.sqlite_dump(dst)
        for label, text, want in self.malformed_cases(doc):
            with self.subTest(label):
                p = run("import", "-", db=dst, stdin=text)
                self.assertEqual(p.returncode, 2, f"{p.stdout}\n{p.stderr}")
                self.assertTrue(p.stderr.startswith("aampctl: "), p.stderr)
                self.assertIn(want, p.stderr)
                self.assertEqual(p.stdout, "")
                self.assertEqual(self.sqlite_dump(dst), before, "a refused import wrote something")
        p = run("import", self.path("missing.json"), db=dst)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read", p.stderr)

    def test_a_refused_import_on_postgresql_writes_nothing(self):
        doc = json.loads(self.export(self.src))
        url, name = new_pg_database()
        self.ok("init", db=url)
        pg = pg_cluster.shared()
        count = "SELECT (SELECT count(*) FROM mailboxes) || ',' || (SELECT count(*) FROM sender_rules)"
        # The last rule names a mailbox nobody has: found after every mailbox and rule before
        # it was written, inside the one transaction, which rolls back.
        doc["senderRules"][-1]["mailbox"] = "nobody@example.com"
        p = run("import", "-", db=url, stdin=json.dumps(doc))
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("no mailbox nobody@example.com", p.stderr)
        self.assertNotIn(pg_cluster.PASSWORD, p.stdout + p.stderr)
        self.assertEqual(pg.superuser_sql(count, database=name), "0,0")


if __name__ == "__main__":
    unittest.main()
