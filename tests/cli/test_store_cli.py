"""test_store_cli.py — the real aampctl on temporary databases: init/migrate, mailbox,
sender, pair and audit commands, their --json output, and bad input (unknown mailbox,
malformed pattern, bad TTL, invalid rules, ...) giving a clear error, exit status 2 and a
database left byte-for-byte and row-for-row as it was.

Environment: AAMPCTL (the binary under test). Python standard library only.
"""
import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.parse

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")


def run(*args, db=None, check=None):
    argv = [AAMPCTL] + (["--db", db] if db else []) + list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if check is not None and p.returncode != check:
        raise AssertionError(f"{argv} exited {p.returncode}, wanted {check}\nstdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def snapshot(path):
    """The file's bytes and every row of every table (read without writing)."""
    with open(path, "rb") as f:
        data = f.read()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = list(con.iterdump())
        version = con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()
    return data, rows, version


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class StoreCliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-cli-")
        self.db = os.path.join(self.tmp.name, "policy.db")
        run("init", db=self.db, check=0)

    def tearDown(self):
        self.tmp.cleanup()

    def ok(self, *args):
        return run(*args, db=self.db, check=0)

    def js(self, *args):
        return json.loads(run("--json", *args, db=self.db, check=0).stdout)

    def sql(self, query, params=()):
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute(query, params).fetchall()
            con.commit()
            return rows
        finally:
            con.close()

    def refused(self, args, want, db=None):
        """args exit 2 with `want` in a one-line 'aampctl: ...' message; nothing changes."""
        db = db or self.db
        before = snapshot(db)
        p = run(*args, db=db)
        self.assertEqual(p.returncode, 2, f"{args}: {p.stdout} {p.stderr}")
        self.assertTrue(p.stderr.startswith("aampctl: "), p.stderr)
        self.assertIn(want, p.stderr, args)
        self.assertEqual(p.stdout, "", args)
        after = snapshot(db)
        self.assertEqual(before[1], after[1], f"{args}: rows changed")
        self.assertEqual(before[0], after[0], f"{args}: file bytes changed")

    # --- init and migrate --------------------------------------------------------------

    def test_init_and_migrate(self):
        self.assertIn("up to date", self.ok("init").stdout)
        out = self.js("migrate")
        self.assertEqual(out["from"], out["to"])
        self.assertGreaterEqual(out["to"], 1)
        self.assertEqual(self.sql("PRAGMA journal_mode")[0][0], "wal")
        fresh = os.path.join(self.tmp.name, "fresh.db")
        self.assertIn("initialised at schema version", run("init", db=fresh, check=0).stdout)
        self.assertEqual(os.stat(fresh).st_mode & 0o777, 0o640)

    def test_migrate_needs_an_existing_database(self):
        missing = os.path.join(self.tmp.name, "missing.db")
        p = run("migrate", db=missing)
        self.assertEqual(p.returncode, 2)
        self.assertIn("aampctl init", p.stderr)
        self.assertFalse(os.path.exists(missing))
        p = run("init", db=os.path.join(self.tmp.name, "no", "such", "dir", "p.db"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("no/such/dir/p.db", p.stderr)

    def test_a_newer_database_is_refused_and_left_alone(self):
        latest = self.js("migrate")["to"]
        self.sql(f"PRAGMA user_version = {latest + 5}")
        for args in (["migrate"], ["init"], ["mailbox", "list"], ["mailbox", "add", "a@b.c"]):
            with self.subTest(args=args):
                self.refused(args, "newer than this program")

    def test_a_garbage_file_is_refused(self):
        bad = os.path.join(self.tmp.name, "garbage.db")
        with open(bad, "wb") as f:
            f.write(b"this is not a database " * 200)
        for args in (["init"], ["mailbox", "list"]):
            with self.subTest(args=args):
                p = run(*args, db=bad)
                self.assertEqual(p.returncode, 2)
                self.assertIn("garbage.db", p.stderr)
                self.assertIn("not an intact aamp-milter database", p.stderr)

    def test_database_from_the_config_file(self):
        conf = os.path.join(self.tmp.name, "aamp-milter.conf")
        with open(conf, "w") as f:
            f.write(f"# comment\nDatabase {self.db}\n")
        run("-c", conf, "mailbox", "add", "agent@example.com", check=0)
        self.assertEqual([m["address"] for m in self.js("mailbox", "list")], ["agent@example.com"])
        p = run("-c", os.path.join(self.tmp.name, "none.conf"), "mailbox", "list")
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read config file", p.stderr)

    # --- mailbox -----------------------------------------------------------------------

    def test_mailbox_add_set_list_remove(self):
        out = self.js("mailbox", "add", "Agent@Example.COM", "--mode", "report", "--note", "first")
        self.assertEqual(out["address"], "agent@example.com")
        self.assertEqual(out["mode"], "report")
        self.assertEqual(out["intents"], ["task.dispatch", "task.cancel", "card.query"])
        self.assertEqual(out["trust"], ["auth", "internal", "authres"])
        self.assertEqual(out["note"], "first")
        self.ok("mailbox", "add", "@example.org", "--trust", "auth,authres", "--intents", "task.dispatch")
        self.ok("mailbox", "add", "*@example.net", "--trust", "none", "--intents", "none")

        changed = self.js("mailbox", "set", "agent@example.com", "--mode", "enforce", "--trust", "internal")
        self.assertEqual(changed["mode"], "enforce")
        self.assertEqual(changed["trust"], ["internal"])
        self.assertEqual(changed["note"], "first")  # untouched

        listed = {m["address"]: m for m in self.js("mailbox", "list")}
        self.assertEqual(set(listed), {"agent@example.com", "@example.org", "@example.net"})
        self.assertEqual(listed["@example.org"]["trust"], ["auth", "authres"])
        self.assertEqual(listed["@example.org"]["intents"], ["task.dispatch"])
        self.assertEqual(listed["@example.net"]["trust"], [])
        self.assertEqual(listed["@example.net"]["intents"], [])
        text = self.ok("mailbox", "list").stdout
        self.assertIn("@example.net", text)
        self.assertIn("none", text)

        self.ok("sender", "allow", "--mailbox", "@example.org", "@partner.com")
        self.ok("pair", "issue", "--mailbox", "bot@example.org")
        removed = self.js("mailbox", "remove", "@example.org")
        self.assertEqual((removed["rules"], removed["pairCodes"]), (1, 1))
        self.assertEqual(self.sql("SELECT count(*) FROM sender_rules")[0][0], 0)
        self.assertEqual(self.sql("SELECT count(*) FROM pair_codes")[0][0], 0)
        self.assertEqual(len(self.js("mailbox", "list")), 2)

    # --- sender ------------------------------------------------------------------------

    def test_sender_allow_list_remove(self):
        self.ok("mailbox", "add", "agent@example.com")
        self.ok("mailbox", "add", "@example.org")
        r1 = self.js("sender", "allow", "--mailbox", "agent@example.com", "Alice@Partner.com")
        self.assertEqual((r1["pattern"], r1["kind"], r1["origin"]), ("alice@partner.com", "exact", "configured"))
        self.assertEqual(r1["context"], {})
        r2 = self.js("sender", "allow", "--mailbox", "agent@example.com", "*@partner.com",
                     "--context", "source=github,feishu", "--context", "env=prod", "--note", "CI bots")
        self.assertEqual((r2["pattern"], r2["kind"]), ("@partner.com", "domain"))
        self.assertEqual(r2["context"], {"source": ["github", "feishu"], "env": ["prod"]})
        self.assertEqual(r2["note"], "CI bots")
        r3 = self.js("sender", "allow", "--mailbox", "@example.org", "ci-*@partner.com",
                     "--context-json", '{"team":["a b","c,d"]}')
        self.assertEqual(r3["kind"], "wildcard")
        self.assertEqual(r3["context"], {"team": ["a b", "c,d"]})

        self.assertEqual([r["id"] for r in self.js("sender", "list")], [r1["id"], r2["id"], r3["id"]])
        self.assertEqual([r["id"] for r in self.js("sender", "list", "--mailbox", "@example.org")], [r3["id"]])
        text = self.ok("sender", "list").stdout
        self.assertIn("source=github,feishu", text)
        self.assertIn("CI bots", text)

        removed = self.js("sender", "remove", str(r2["id"]))
        self.assertEqual(removed["pattern"], "@partner.com")
        self.assertEqual([r["id"] for r in self.js("sender", "list")], [r1["id"], r3["id"]])

    # --- pair --------------------------------------------------------------------------

    def test_pair_issue_prints_the_url_first_and_stores_only_a_hash(self):
        self.ok("mailbox", "add", "agent@example.com")
        before = time.time()
        p = self.ok("pair", "issue", "--mailbox", "agent@example.com", "--ttl", "10m", "--rules", "source=github")
        url = p.stdout.splitlines()[0]
        self.assertTrue(url.startswith("aamp://connect?"), url)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, strict_parsing=True)
        self.assertEqual(q["mailbox"], ["agent@example.com"])
        code = q["pair_code"][0]
        self.assertEqual(len(code), 16)  # 12 random bytes by default
        self.assertRegex(code, r"^[A-Za-z0-9_-]+$")
        self.assertEqual(json.loads(b64url_decode(q["dispatch_context_rules"][0])), {"source": ["github"]})
        self.assertNotIn("\u2588", p.stdout)  # no QR code when stdout is not a terminal

        rows = self.sql("SELECT code_hash, expires_at, rules FROM pair_codes")
        self.assertEqual(len(rows), 1)
        want_hash = hashlib.sha256(b"aamp-pair-code-v1\0" + code.encode()).hexdigest()
        self.assertEqual(rows[0][0], want_hash)
        self.assertAlmostEqual(rows[0][1], before + 600, delta=5)
        self.assertEqual(json.loads(rows[0][2]), {"source": ["github"]})
        with open(self.db, "rb") as f:
            self.assertNotIn(code.encode(), f.read())

        listed = self.ok("pair", "list").stdout + self.ok("--json", "pair", "list").stdout
        self.assertNotIn(code, listed)

    def test_pair_issue_json_qr_and_code_length(self):
        self.ok("mailbox", "add", "@example.com")
        out = self.js("pair", "issue", "--mailbox", "Bot@example.com", "--bytes", "6")
        self.assertEqual(set(out), {"url", "code", "mailbox", "expiresAt", "id"})
        self.assertEqual(len(out["code"]), 8)
        self.assertEqual(out["mailbox"], "bot@example.com")
        self.assertIn("pair_code=" + out["code"], out["url"])
        self.assertNotIn("dispatch_context_rules", out["url"])
        self.assertRegex(out["expiresAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        qr = self.ok("pair", "issue", "--mailbox", "bot@example.com", "--qr").stdout.splitlines()
        self.assertTrue(qr[0].startswith("aamp://connect?"))
        blocks = [l for l in qr[1:] if set(l) <= set("\u2588\u2580\u2584 ")]
        self.assertGreaterEqual(len(blocks), 15)
        self.assertEqual(len({len(l) for l in blocks}), 1)  # a square of equal lines
        codes = {self.js("pair", "issue", "--mailbox", "bot@example.com")["code"] for _ in range(5)}
        self.assertEqual(len(codes), 5)

    def test_pair_issue_for_one_address_of_a_domain_mailbox_binds_the_code_and_says_so(self):
        self.ok("mailbox", "add", "@example.com")
        p = run("--json", "pair", "issue", "--mailbox", "Bot@Example.com", db=self.db, check=0)
        self.assertIn("bot@example.com is protected by the domain mailbox @example.com", p.stderr)
        self.assertIn("every address of @example.com", p.stderr)
        self.assertEqual(self.sql("SELECT address FROM pair_codes"), [("bot@example.com",)])
        listed = self.js("pair", "list")
        self.assertEqual([c["address"] for c in listed], ["bot@example.com"])
        self.ok("mailbox", "add", "agent@example.com")
        p = run("pair", "issue", "--mailbox", "agent@example.com", db=self.db, check=0)
        self.assertNotIn("domain mailbox", p.stderr)

    def test_pair_list_and_revoke(self):
        self.ok("mailbox", "add", "agent@example.com")
        a = self.js("pair", "issue", "--mailbox", "agent@example.com")["id"]
        b = self.js("pair", "issue", "--mailbox", "agent@example.com", "--ttl", "1s")["id"]
        c = self.js("pair", "issue", "--mailbox", "agent@example.com")["id"]
        self.sql("UPDATE pair_codes SET expires_at = expires_at - 3600 WHERE id = ?", (b,))
        self.sql("UPDATE pair_codes SET consumed_at = created_at, consumed_by = 'x@y.z' WHERE id = ?", (c,))
        revoked = self.js("pair", "revoke", str(a))
        self.assertEqual(revoked["state"], "revoked")
        states = {p["id"]: (p["state"], p["consumedBy"]) for p in self.js("pair", "list")}
        self.assertEqual(states, {a: ("revoked", None), b: ("expired", None), c: ("used", "x@y.z")})
        self.refused(["pair", "revoke", str(a)], "revoked already")
        self.refused(["pair", "revoke", str(c)], "used already")
        self.assertEqual(len(self.js("pair", "list", "--mailbox", "agent@example.com")), 3)

    # --- audit -------------------------------------------------------------------------

    def add_audit(self, at, verdict, recipient, sender, rule=None):
        self.sql("INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, recipient, "
                 "intent, task_id, verdict, reason, rule_id) VALUES (?, 'Q1', '192.0.2.1', '', ?, ?, ?, "
                 "'task.dispatch', 't', ?, 'because', ?)", (at, sender, sender, recipient, verdict, rule))

    def test_audit_filters_and_export(self):
        now = int(time.time())
        self.add_audit(now - 7200, "allow", "agent@example.com", "alice@partner.com", 3)
        self.add_audit(now - 1800, "deny", "agent@example.com", "eve@evil.net")
        self.add_audit(now - 60, "allow", "bot@example.org", "bob@partner.com")
        self.add_audit(now - 10, "pair-completed", "Agent@Example.com", "carol@partner.com")

        def ids(*args):
            return [r["id"] for r in self.js("audit", *args)]

        self.assertEqual(ids(), [1, 2, 3, 4])
        self.assertEqual(ids("--since", "1h"), [2, 3, 4])
        self.assertEqual(ids("--since", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 100))), [3, 4])
        self.assertEqual(ids("--mailbox", "agent@example.com"), [1, 2, 4])
        self.assertEqual(ids("--mailbox", "@example.org"), [3])
        self.assertEqual(ids("--sender", "eve@evil.net"), [2])
        self.assertEqual(ids("--sender", "@partner.com"), [1, 3, 4])
        self.assertEqual(ids("--verdict", "allow"), [1, 3])
        self.assertEqual(ids("--verdict", "allow", "--sender", "@partner.com", "--since", "1h"), [3])
        self.assertEqual(ids("--limit", "2"), [3, 4])
        row = self.js("audit", "--verdict", "deny")[0]
        self.assertEqual(row["headerFrom"], "eve@evil.net")
        self.assertIsNone(row["ruleId"])
        self.assertEqual(self.js("audit", "--verdict", "allow")[0]["ruleId"], 3)

        lines = self.ok("audit", "export", "--sender", "@partner.com").stdout.splitlines()
        self.assertEqual([json.loads(l)["id"] for l in lines], [1, 3, 4])
        self.assertEqual(set(json.loads(lines[0])), {
            "id", "at", "messageId", "clientAddr", "authUser", "envelopeFrom", "headerFrom", "recipient",
            "intent", "taskId", "verdict", "reason", "ruleId", "rulePattern", "ruleOrigin"})
        text = self.ok("audit").stdout
        self.assertIn("pair-completed", text)
        self.assertIn("because", text)

    def test_audit_shows_the_latest_hundred_unless_asked(self):
        con = sqlite3.connect(self.db)
        con.executemany("INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, "
                        "recipient, intent, task_id, verdict, reason) VALUES (?, '', '', '', '', '', 'a@b.c', "
                        "'', '', 'allow', '')", [(1_700_000_000 + i,) for i in range(150)])
        con.commit()
        con.close()
        shown = self.js("audit")
        self.assertEqual(len(shown), 100)
        self.assertEqual(shown[0]["id"], 51)
        self.assertEqual(len(self.js("audit", "--limit", "0")), 150)
        self.assertEqual(len(self.ok("audit", "export").stdout.splitlines()), 150)

    def test_audit_shows_a_verdict_a_newer_release_wrote(self):
        # During a rolling upgrade a newer milter may write a verdict this aampctl has no
        # name for: the row is shown as stored, not refused as a corrupt database.
        self.sql("INSERT INTO audit (at, message_id, client_addr, auth_user, envelope_from, header_from, "
                 "recipient, intent, task_id, verdict, reason) VALUES (1700000000, 'Q1', '', '', '', '', "
                 "'a@b.c', 'task.result', 't1', 'thread-unknown', 'from a newer release')")
        shown = self.js("audit")
        self.assertEqual([r["verdict"] for r in shown], ["thread-unknown"])
        self.assertIn("thread-unknown", self.ok("audit").stdout)
        self.assertEqual(len(self.js("audit", "--verdict", "thread-unknown")), 1)

    # --- bad input: exit 2, clear message, nothing changed -------------------------------

    def test_bad_input_changes_nothing(self):
        self.ok("mailbox", "add", "agent@example.com")
        self.ok("mailbox", "add", "@example.org")
        self.ok("sender", "allow", "--mailbox", "agent@example.com", "alice@partner.com")
        pair = self.js("pair", "issue", "--mailbox", "agent@example.com")
        cases = [
            # unknown mailbox
            (["sender", "allow", "--mailbox", "nobody@example.com", "a@b.c"], "no mailbox nobody@example.com"),
            (["sender", "allow", "--mailbox", "bot@example.org", "a@b.c"], "covered by @example.org"),
            (["sender", "list", "--mailbox", "nobody@example.com"], "no mailbox nobody@example.com"),
            (["pair", "issue", "--mailbox", "nobody@example.com"], "not a protected mailbox"),
            (["mailbox", "set", "nobody@example.com", "--mode", "off"], "no mailbox nobody@example.com"),
            (["mailbox", "remove", "nobody@example.com"], "no mailbox nobody@example.com"),
            (["mailbox", "add", "agent@example.com"], "exists already"),
            # malformed addresses and patterns
            (["mailbox", "add", "ci-*@example.com"], "not a mailbox address"),
            (["mailbox", "add", "a@@b"], "not a mailbox address"),
            (["mailbox", "add", "a b@c.d"], "not a mailbox address"),
            (["sender", "allow", "--mailbox", "agent@example.com", "alice@"], "not a sender pattern"),
            (["sender", "allow", "--mailbox", "agent@example.com", "a@b@c"], "not a sender pattern"),
            (["sender", "allow", "--mailbox", "agent@example.com", ""], "not a sender pattern"),
            (["sender", "allow", "--mailbox", "agent@example.com", "@*.example.com"], "not a sender pattern"),
            (["sender", "allow", "--mailbox", "agent@example.com", "alice@partner.com"], "same context already"),
            (["pair", "issue", "--mailbox", "@example.org"], "one agent's address"),
            # bad TTL and sizes
            (["pair", "issue", "--mailbox", "agent@example.com", "--ttl", "0"], "more than zero"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--ttl", "5x"], "unknown duration unit 'x'"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--ttl", "-5m"], "not a duration"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--ttl", "1h30"], "without a unit"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--ttl", "8d"], "longer than the maximum"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--ttl", ""], "is empty"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--bytes", "5"], "outside 6..64"),
            # invalid rules
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context", "source"], "not key=value"),
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context", "Source=x"], "not [a-z0-9_-]+"),
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context", "k="], "empty value"),
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context", "k=a", "--context", "k=b"],
             "given twice"),
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context-json", "{not json"],
             "not valid JSON"),
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context-json", '{"k":"v"}'],
             "--context-json"),
            (["sender", "allow", "--mailbox", "agent@example.com", "b@c.d", "--context-json", '{"k":[]}'],
             "at least one allowed value"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--rules", "k"], "not key=value"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--rules-json", "[1,2]"], "--rules-json"),
            (["pair", "issue", "--mailbox", "agent@example.com", "--rules-json", '{"k":[1]}'], "--rules-json"),
            # bad options, ids, modes, times
            (["mailbox", "add", "new@example.com", "--mode", "block"], "not one of enforce, report, off"),
            (["mailbox", "add", "new@example.com", "--trust", "dkim"], "not one of auth, internal, authres"),
            (["mailbox", "add", "new@example.com", "--intents", "task.dispatch,task.bogus"], "not an AAMP intent"),
            (["mailbox", "add", "new@example.com", "--bogus"], "unexpected argument '--bogus'"),
            (["mailbox", "add", "new@example.com", "--mode"], "--mode needs a value"),
            (["mailbox", "set", "agent@example.com"], "nothing to change"),
            (["mailbox", "explode"], "unknown mailbox command"),
            (["sender", "remove", "999"], "no sender rule 999"),
            (["sender", "remove", "x1"], "not a number"),
            (["sender", "allow", "a@b.c"], "--mailbox M is required"),
            (["pair", "revoke", "999"], "no pair code 999"),
            (["pair", "revoke", "0"], "not a positive number"),
            (["audit", "--since", "yesterday"], "not a time"),
            (["audit", "--since", "2026-13-45"], "not a time"),
            (["audit", "--limit", "ten"], "not a number"),
            (["audit", "--mailbox", "*"], "not an address or @domain"),
            (["audit", "bogus"], "unknown audit command"),
            (["nosuchcommand"], "unknown command"),
        ]
        for args, want in cases:
            with self.subTest(args=args):
                self.refused(args, want)
        self.assertEqual(len(self.js("pair", "list")), 1)
        self.assertNotIn(pair["code"], self.ok("pair", "list").stdout)

    def test_help_lists_the_commands(self):
        out = run("help", check=0).stdout
        for name in ("init", "migrate", "mailbox", "sender", "pair", "audit"):
            self.assertIn(name, out)


if __name__ == "__main__":
    unittest.main()
