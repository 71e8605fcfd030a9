"""test_check.py — `aampctl check` with the real binary: the milter's decision for .eml
files (allowed, refused, malformed, non-AAMP, pairing, report mode via -c), the JSON shape,
exit statuses, and that checking changes nothing in the database (no audit row, no pair
code consumed, no reply queued).

Environment: AAMPCTL (the binary under test). Python standard library only.
"""
import json
import os
import subprocess
import tempfile
import unittest

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")


def mail(intent=None, sender="alice@example.com", extra=()):
    lines = [f"From: Alice <{sender}>", "To: agent@example.net", "Subject: test",
             "Message-ID: <check-1@example.com>"]
    if intent:
        lines += ["X-AAMP-Version: 1.1", f"X-AAMP-Intent: {intent}", "X-AAMP-TaskId: task-1"]
    lines += list(extra)
    return "\r\n".join(lines) + "\r\n\r\nbody\r\n"


class CheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-check-")
        self.db = os.path.join(self.tmp.name, "policy.db")
        for args in (["init"], ["mailbox", "add", "agent@example.net"],
                     ["sender", "allow", "--mailbox", "agent@example.net", "alice@example.com"]):
            self.run_ctl("--db", self.db, *args, want=0)
        self.code = json.loads(self.run_ctl("--db", self.db, "--json", "pair", "issue", "--mailbox",
                                            "agent@example.net", want=0).stdout)["code"]
        self.conf = os.path.join(self.tmp.name, "aamp-milter.conf")
        with open(self.conf, "w") as f:
            f.write(f"Database {self.db}\nAuthservID mx.test\n")

    def tearDown(self):
        self.tmp.cleanup()

    def run_ctl(self, *args, want=None):
        p = subprocess.run([AAMPCTL] + list(args), capture_output=True, text=True, timeout=60)
        if want is not None:
            self.assertEqual(p.returncode, want, f"{args}\n{p.stdout}\n{p.stderr}")
        return p

    def eml(self, text):
        path = os.path.join(self.tmp.name, f"m{len(os.listdir(self.tmp.name))}.eml")
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def check(self, text, *args, conf=None, want=None):
        argv = ["-c", conf or self.conf, "--json", "check", self.eml(text), "--rcpt", "agent@example.net"] + list(args)
        return json.loads(self.run_ctl(*argv, want=want).stdout)

    def db_bytes(self):
        with open(self.db, "rb") as f:
            return f.read()

    def test_decisions(self):
        pair = mail("pair.request", sender="newbie@example.org", extra=[f"X-AAMP-Pair-Code: {self.code}"])
        rows = [
            # label, message, extra args, want verdict, want reply prefix (None = no reply), exit
            ("allowed dispatch", mail("task.dispatch"), ["--auth-user", "alice@example.com"], "accept", None, 0),
            ("untrusted dispatch", mail("task.dispatch"), [], "reject", "550 5.7.1 sender alice@example.com is not", 1),
            ("internal host is not configured", mail("task.dispatch"), ["--client-ip", "10.0.0.1"], "reject",
             "550 5.7.1", 1),
            ("unknown sender", mail("task.dispatch", sender="carol@example.com"),
             ["--auth-user", "carol@example.com"], "reject", "550 5.7.1 carol@example.com may not send", 1),
            ("malformed", mail("task.dispatch", extra=["X-AAMP-Priority: asap"]),
             ["--auth-user", "alice@example.com"], "reject", "554 5.6.0 malformed AAMP message", 1),
            ("not AAMP", mail(), [], "accept", None, 0),
            ("pair request with a live code", pair, ["--auth-user", "newbie@example.org"], "discard", None, 1),
        ]
        before = self.db_bytes()
        for label, text, args, want_verdict, want_reply, want_exit in rows:
            with self.subTest(label):
                out = self.check(text, *args, want=want_exit)
                self.assertEqual(out["verdict"], want_verdict, out)
                if want_reply is None:
                    self.assertIsNone(out["reply"])
                else:
                    self.assertTrue(out["reply"].startswith(want_reply), out["reply"])
                self.assertIn("reason", out)
        self.assertEqual(self.db_bytes(), before, "check must not change the database")
        again = self.check(pair, "--auth-user", "newbie@example.org", want=1)
        self.assertEqual(again["policyVerdict"], "pair-completed", "the code is still live")

    def test_allowed_dispatch_shows_the_verdict_header(self):
        out = self.check(mail("task.dispatch"), "--auth-user", "alice@example.com", want=0)
        self.assertEqual(out["policyVerdict"], "allow")
        [h] = out["addHeaders"]
        self.assertEqual(h["name"], "Authentication-Results")
        self.assertTrue(h["value"].startswith("mx.test; aamp=pass header.from=alice@example.com"), h["value"])
        self.assertEqual(out["recipients"][0]["recipient"], "agent@example.net")
        self.assertTrue(out["recipients"][0]["protected"])

    def test_report_mode_from_the_config_file(self):
        conf = os.path.join(self.tmp.name, "report.conf")
        with open(conf, "w") as f:
            f.write(f"Database {self.db}\nAuthservID mx.test\nMode report\n")
        out = self.check(mail("task.dispatch", sender="carol@example.com"), conf=conf, want=0)
        self.assertEqual(out["verdict"], "accept")
        self.assertEqual(out["policyVerdict"], "report-untrusted")

    def test_text_output(self):
        p = self.run_ctl("-c", self.conf, "check", self.eml(mail("task.dispatch", sender="carol@example.com")),
                         "--rcpt", "agent@example.net", "--auth-user", "carol@example.com", want=1)
        self.assertTrue(p.stdout.startswith("reject: 550 5.7.1 carol@example.com may not send"), p.stdout)
        self.assertIn("agent@example.net: deny", p.stdout)

    def test_data_commands_read_the_database_from_the_milters_config(self):
        out = json.loads(self.run_ctl("-c", self.conf, "--json", "mailbox", "list", want=0).stdout)
        self.assertEqual([m["address"] for m in out], ["agent@example.net"])
        rel = os.path.join(self.tmp.name, "relative.conf")
        with open(rel, "w") as f:
            f.write("# a comment line\nDatabase policy.db\n")
        p = subprocess.run([AAMPCTL, "-c", rel, "--json", "mailbox", "list"], capture_output=True, text=True,
                           timeout=60, cwd=self.tmp.name)
        self.assertEqual(p.returncode, 0, p.stderr)
        bad = os.path.join(self.tmp.name, "bad.conf")
        with open(bad, "w") as f:
            f.write(f"Database {self.db}\nNoSuchKey yes\n")
        p = self.run_ctl("-c", bad, "mailbox", "list", want=2)
        self.assertIn("bad.conf:2", p.stderr)

    def test_bad_input(self):
        rows = [
            ("no --rcpt", ["-c", self.conf, "check", self.eml(mail())], "at least one --rcpt"),
            ("bad --rcpt", ["-c", self.conf, "check", self.eml(mail()), "--rcpt", "nobody"], "is not a mail address"),
            ("bad --client-ip", ["-c", self.conf, "check", self.eml(mail()), "--rcpt", "a@b.example",
                                 "--client-ip", "10.0.0.256"], "is not an IP address"),
            ("missing file", ["-c", self.conf, "check", "/nonexistent.eml", "--rcpt", "a@b.example"], "cannot open"),
            ("bad config", ["-c", "/nonexistent.conf", "check", self.eml(mail()), "--rcpt", "a@b.example"],
             "nonexistent.conf"),
        ]
        for label, argv, want in rows:
            with self.subTest(label):
                p = self.run_ctl(*argv, want=2)
                self.assertIn(want, p.stderr)


if __name__ == "__main__":
    unittest.main()
