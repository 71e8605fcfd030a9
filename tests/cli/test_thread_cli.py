"""test_thread_cli.py — the thread-binding side of the real aampctl on a temporary SQLite
database: a mailbox's own --thread-binding/--unknown-threads (text, JSON, `default`, bad
values), `thread show TASKID` (text, JSON, exit statuses), and `check` reading the thread
registry without writing to it.

Environment: AAMPCTL (the binary under test). Python standard library only.
"""
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import unittest

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")


def mail(intent, sender, task_id, message_id="<thread-cli-1@example.com>"):
    lines = [f"From: <{sender}>", "To: agent@example.net", "Subject: test", f"Message-ID: {message_id}",
             "X-AAMP-Version: 1.1", f"X-AAMP-Intent: {intent}", f"X-AAMP-TaskId: {task_id}"]
    return "\r\n".join(lines) + "\r\n\r\nbody\r\n"


class ThreadCliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-thread-cli-")
        self.db = os.path.join(self.tmp.name, "policy.db")
        self.ctl("init", want=0)
        self.conf = os.path.join(self.tmp.name, "aamp-milter.conf")
        with open(self.conf, "w") as f:
            f.write(f"Database {self.db}\nAuthservID mx.test\n")

    def tearDown(self):
        self.tmp.cleanup()

    def ctl(self, *args, want=None, db=True):
        argv = [AAMPCTL] + (["--db", self.db] if db else []) + list(args)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if want is not None:
            self.assertEqual(p.returncode, want, f"{args}\n{p.stdout}\n{p.stderr}")
        return p

    def mailbox_json(self, address):
        return next(m for m in json.loads(self.ctl("--json", "mailbox", "list", want=0).stdout)
                    if m["address"] == address)

    def record_thread(self, kind, task_id, initiator, peer, created, expires):
        con = sqlite3.connect(self.db)
        try:
            con.execute("INSERT INTO threads (kind, task_id, initiator, peer, created_at, expires_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)", (kind, task_id, initiator, peer, created, expires))
            con.commit()
        finally:
            con.close()

    def db_rows(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return list(con.iterdump())
        finally:
            con.close()

    def test_a_mailboxs_own_thread_settings(self):
        p = self.ctl("mailbox", "add", "agent@example.net", "--thread-binding", "report", "--unknown-threads",
                     "refuse", want=0)
        self.assertIn("thread binding report, unknown threads refuse", p.stdout)
        m = self.mailbox_json("agent@example.net")
        self.assertEqual((m["threadBinding"], m["unknownThreads"]), ("report", "refuse"))
        # `default`: the mailbox follows the global setting again (null in JSON).
        self.ctl("mailbox", "set", "agent@example.net", "--thread-binding", "default", want=0)
        m = self.mailbox_json("agent@example.net")
        self.assertEqual((m["threadBinding"], m["unknownThreads"]), (None, "refuse"))
        # A mailbox added without them follows the globals.
        self.ctl("mailbox", "add", "other@example.net", want=0)
        m = self.mailbox_json("other@example.net")
        self.assertEqual((m["threadBinding"], m["unknownThreads"]), (None, None))
        # Bad values: exit 2, the accepted values named, nothing changed.
        before = self.db_rows()
        for option, value, want in (("--thread-binding", "strict", "expected enforce, report, off or default"),
                                    ("--unknown-threads", "deny", "expected allow, refuse or default")):
            p = self.ctl("mailbox", "set", "agent@example.net", option, value, want=2)
            self.assertIn(want, p.stderr)
            self.assertEqual(p.stdout, "")
        self.assertEqual(self.db_rows(), before)

    def test_export_and_import_carry_a_mailboxs_thread_settings(self):
        self.ctl("mailbox", "add", "agent@example.net", "--thread-binding", "off", "--unknown-threads", "refuse",
                 want=0)
        self.ctl("mailbox", "add", "other@example.net", want=0)
        doc = json.loads(self.ctl("export", want=0).stdout)
        got = {m["address"]: (m["threadBinding"], m["unknownThreads"]) for m in doc["mailboxes"]}
        self.assertEqual(got, {"agent@example.net": ("off", "refuse"), "other@example.net": (None, None)})
        # Into a fresh database, and back into this one: nothing changes.
        export = os.path.join(self.tmp.name, "policy.json")
        with open(export, "w") as f:
            json.dump(doc, f)
        fresh = os.path.join(self.tmp.name, "fresh.db")
        subprocess.run([AAMPCTL, "--db", fresh, "init"], check=True, capture_output=True, timeout=60)
        subprocess.run([AAMPCTL, "--db", fresh, "import", export], check=True, capture_output=True, timeout=60)
        listed = json.loads(subprocess.run([AAMPCTL, "--db", fresh, "--json", "mailbox", "list"], check=True,
                                           capture_output=True, text=True, timeout=60).stdout)
        self.assertEqual({m["address"]: (m["threadBinding"], m["unknownThreads"]) for m in listed}, got)
        p = self.ctl("import", export, want=0)
        self.assertRegex(p.stdout, r"mailboxes\s+0 added, 0 updated, 2 unchanged")
        # An export from before thread binding (no such fields) imports; the globals hold.
        for m in doc["mailboxes"]:
            del m["threadBinding"], m["unknownThreads"]
        with open(export, "w") as f:
            json.dump(doc, f)
        p = self.ctl("import", export, want=0)
        self.assertRegex(p.stdout, r"mailboxes\s+0 added, 1 updated, 1 unchanged")
        self.assertEqual(self.mailbox_json("agent@example.net")["threadBinding"], None)
        # A bad value is refused with the field named.
        doc["mailboxes"][0]["threadBinding"] = "strict"
        with open(export, "w") as f:
            json.dump(doc, f)
        p = self.ctl("import", export, want=2)
        self.assertIn("threadBinding", p.stderr)

    def test_thread_show(self):
        p = self.ctl("thread", "show", "T1", want=1)
        self.assertIn("no thread with TaskId T1", p.stdout)
        self.assertEqual(json.loads(self.ctl("--json", "thread", "show", "T1", want=1).stdout),
                         {"taskId": "T1", "threads": [], "audit": []})
        self.ctl("thread", "show", want=2)  # TASKID is required

        now = int(time.time())
        self.record_thread("task", "T1", "alice@example.com", "agent@example.net", now, now + 3600)
        self.record_thread("pair", "T1", "dana@example.net", "bot@partner.example", now, now + 60)
        self.record_thread("task", "T2", "carol@example.com", "agent@example.net", now, now + 3600)
        p = self.ctl("thread", "show", "T1", want=0)
        self.assertIn("task thread T1: alice@example.com -> agent@example.net", p.stdout)
        self.assertIn("pair thread T1: dana@example.net -> bot@partner.example", p.stdout)
        self.assertNotIn("carol", p.stdout)
        shown = json.loads(self.ctl("--json", "thread", "show", "T1", want=0).stdout)
        self.assertEqual(shown["taskId"], "T1")
        self.assertEqual(sorted((t["kind"], t["initiator"], t["peer"]) for t in shown["threads"]),
                         [("pair", "dana@example.net", "bot@partner.example"),
                          ("task", "alice@example.com", "agent@example.net")])
        for t in shown["threads"]:
            self.assertEqual(set(t), {"kind", "taskId", "initiator", "peer", "createdAt", "expiresAt"})
            self.assertRegex(t["createdAt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(shown["audit"], [])

    def test_check_reads_the_registry_and_writes_nothing(self):
        self.ctl("mailbox", "add", "agent@example.net", want=0)
        for sender in ("alice@example.com", "carol@example.com"):
            self.ctl("sender", "allow", "--mailbox", "agent@example.net", sender, want=0)
        now = int(time.time())
        self.record_thread("task", "T1", "alice@example.com", "agent@example.net", now, now + 3600)
        path = os.path.join(self.tmp.name, "hijack.eml")
        with open(path, "w", newline="") as f:
            f.write(mail("task.dispatch", "carol@example.com", "T1"))
        before = self.db_rows()
        p = self.ctl("-c", self.conf, "--json", "check", path, "--rcpt", "agent@example.net", "--auth-user",
                     "carol@example.com", db=False, want=1)
        out = json.loads(p.stdout)
        self.assertEqual(out["recipients"][0]["verdict"], "thread-hijack", out)
        self.assertIn("belongs to another dispatcher", json.dumps(out))
        # Alice's own follow-up passes; checking wrote no audit row, thread or delivery.
        with open(path, "w", newline="") as f:
            f.write(mail("task.dispatch", "alice@example.com", "T1"))
        p = self.ctl("-c", self.conf, "--json", "check", path, "--rcpt", "agent@example.net", "--auth-user",
                     "alice@example.com", db=False, want=0)
        self.assertEqual(json.loads(p.stdout)["recipients"][0]["verdict"], "allow")
        self.assertEqual(self.db_rows(), before)


if __name__ == "__main__":
    unittest.main()
