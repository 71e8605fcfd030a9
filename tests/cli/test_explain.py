"""test_explain.py — `aampctl explain` with the real binary on a temporary database: which
rule allows a sender, refusals with the reason, context rules, unprotected mailboxes,
intents without sender policy, report mode, the JSON shape, exit statuses 0 / 1 / 2.

Environment: AAMPCTL (the binary under test). Python standard library only.
"""
import json
import os
import subprocess
import tempfile
import unittest

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")


def run(*args, db):
    return subprocess.run([AAMPCTL, "--db", db] + list(args), capture_output=True, text=True, timeout=60)


class ExplainTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-explain-")
        self.db = os.path.join(self.tmp.name, "policy.db")
        for args in (["init"],
                     ["mailbox", "add", "agent@example.net"],
                     ["mailbox", "add", "@agents.example.net"],
                     ["mailbox", "add", "quiet@example.net", "--mode", "report"],
                     ["sender", "allow", "--mailbox", "agent@example.net", "alice@example.com"],
                     ["sender", "allow", "--mailbox", "agent@example.net", "@partner.example",
                      "--context", "project=p1,p2"],
                     ["sender", "allow", "--mailbox", "@agents.example.net", "*@example.com"]):
            p = run(*args, db=self.db)
            self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
        rules = json.loads(run("--json", "sender", "list", db=self.db).stdout)
        self.rule = {r["pattern"]: r["id"] for r in rules}

    def tearDown(self):
        self.tmp.cleanup()

    def explain(self, *args):
        p = run("--json", "explain", *args, db=self.db)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p.returncode, json.loads(p.stdout)

    def test_answers_with_the_deciding_rule(self):
        rows = [
            # label, args, want exit, want rule pattern (None: no rule), substring of reason
            ("exact rule", ["--from", "alice@example.com", "--to", "agent@example.net"], 0,
             "alice@example.com", "allows it"),
            ("case-insensitive", ["--from", "ALICE@example.com", "--to", "Agent@Example.NET"], 0,
             "alice@example.com", "allows it"),
            ("unknown sender", ["--from", "carol@example.com", "--to", "agent@example.net"], 1,
             None, "no sender rule allows it"),
            ("context allowed", ["--from", "dev@partner.example", "--to", "agent@example.net",
                                 "--context", "project=p2"], 0, "@partner.example", "allows it"),
            ("context refused", ["--from", "dev@partner.example", "--to", "agent@example.net",
                                 "--context", "project=p3"], 1, None, "dispatch context"),
            ("context missing", ["--from", "dev@partner.example", "--to", "agent@example.net"], 1,
             None, "has no 'project'"),
            ("domain mailbox", ["--from", "x@example.com", "--to", "any@agents.example.net"], 0,
             "@example.com", "allows it"),
            ("unprotected mailbox", ["--from", "carol@example.com", "--to", "human@example.net"], 0,
             None, "not a protected mailbox"),
            ("intent without sender policy", ["--from", "carol@example.com", "--to", "agent@example.net",
                                              "--intent", "task.result"], 0, None, "needs no sender policy"),
            ("guarded intent card.query", ["--from", "carol@example.com", "--to", "agent@example.net",
                                           "--intent", "card.query"], 1, None, "may not send card.query"),
            ("report mode", ["--from", "carol@example.com", "--to", "quiet@example.net"], 1, None,
             "report mode: delivered anyway"),
        ]
        for label, args, want_exit, want_pattern, want_reason in rows:
            with self.subTest(label):
                code, out = self.explain(*args)
                self.assertEqual(code, want_exit, out)
                self.assertEqual(set(out), {"allowed", "rule", "reason"})
                self.assertEqual(out["allowed"], want_exit == 0)
                self.assertEqual(out["rule"], self.rule[want_pattern] if want_pattern else None)
                self.assertIn(want_reason, out["reason"])

    def test_text_output(self):
        p = run("explain", "--from", "carol@example.com", "--to", "agent@example.net", db=self.db)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith("refused: carol@example.com may not send task.dispatch"), p.stdout)

    def test_bad_input_is_a_usage_error(self):
        rows = [
            ("no --from", ["--to", "agent@example.net"], "--from ADDRESS is required"),
            ("bad address", ["--from", "alice", "--to", "agent@example.net"], "is not a mail address"),
            ("bad intent", ["--from", "a@b.example", "--to", "agent@example.net", "--intent", "Task.Dispatch"],
             "is not an AAMP intent"),
            ("bad context", ["--from", "a@b.example", "--to", "agent@example.net", "--context", "Project=x"],
             "is not key=value"),
            ("context twice", ["--from", "a@b.example", "--to", "agent@example.net", "--context", "k=1",
                               "--context", "k=2"], "given twice"),
            ("stray argument", ["--from", "a@b.example", "--to", "agent@example.net", "extra"],
             "unexpected argument"),
        ]
        for label, args, want in rows:
            with self.subTest(label):
                p = run("explain", *args, db=self.db)
                self.assertEqual(p.returncode, 2, p.stdout)
                self.assertIn(want, p.stderr)

    def test_missing_database_is_an_error(self):
        p = run("explain", "--from", "a@b.example", "--to", "agent@example.net",
                db=os.path.join(self.tmp.name, "nope.db"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("aampctl:", p.stderr)


def dispatch_mail(sender):
    return "\r\n".join([f"From: <{sender}>", "To: agent@example.net", "Subject: explain",
                         "Message-ID: <explain-1@example.com>", "X-AAMP-Version: 1.1",
                         "X-AAMP-Intent: task.dispatch", "X-AAMP-TaskId: task-1"]) + "\r\n\r\nbody\r\n"


class ExplainAgreesWithTheMilterTest(unittest.TestCase):
    """explain judges the recipient with the engine's own judge_recipient(): the address
    normalised as Postfix delivers it, and RecipientDelimiter from the milter's config (-c).
    Each row asks explain and `aampctl check` (the very decide() the milter runs) the same
    question, with a sender that shows trust, so only the recipient judge and sender policy
    can decide."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-explain-judge-")
        self.db = os.path.join(self.tmp.name, "policy.db")
        for args in (["init"],
                     ["mailbox", "add", "agent@example.net"],
                     ["sender", "allow", "--mailbox", "agent@example.net", "alice@example.com"]):
            p = run(*args, db=self.db)
            self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
        self.conf = {}
        for name, extra in (("plain", ""), ("delimiter", "RecipientDelimiter +\n"), ("report", "Mode report\n")):
            self.conf[name] = os.path.join(self.tmp.name, f"{name}.conf")
            with open(self.conf[name], "w") as f:
                f.write(f"Database {self.db}\nAuthservID mx.test\n{extra}")
        self.eml = os.path.join(self.tmp.name, "m.eml")

    def tearDown(self):
        self.tmp.cleanup()

    def ctl(self, *args):
        return subprocess.run([AAMPCTL] + list(args), capture_output=True, text=True, timeout=60)

    def explain(self, conf, sender, rcpt):
        p = self.ctl("-c", self.conf[conf], "--json", "explain", "--from", sender, "--to", rcpt)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p.returncode, json.loads(p.stdout)

    def check(self, conf, sender, rcpt):
        with open(self.eml, "w", newline="") as f:
            f.write(dispatch_mail(sender))
        p = self.ctl("-c", self.conf[conf], "--json", "check", self.eml, "--rcpt", rcpt, "--auth-user", sender)
        self.assertIn(p.returncode, (0, 1), p.stderr)
        return p.returncode, json.loads(p.stdout)

    def test_explain_and_check_agree(self):
        rows = [
            # label, config, sender, recipient, want exit, substring of explain's reason
            ("extension with RecipientDelimiter: a stranger", "delimiter", "carol@example.com",
             "agent+x@example.net", 1, "may not send task.dispatch to agent@example.net"),
            ("extension with RecipientDelimiter: an allowed sender", "delimiter", "alice@example.com",
             "agent+x@example.net", 0, "allows it"),
            ("extension without RecipientDelimiter: another address", "plain", "carol@example.com",
             "agent+x@example.net", 0, "agent+x@example.net is not a protected mailbox"),
            ("quoted local part and trailing dot: a stranger", "plain", "carol@example.com",
             '"agent"@example.net.', 1, "may not send task.dispatch to agent@example.net"),
            ("quoted local part and trailing dot: an allowed sender", "plain", "alice@example.com",
             '"agent"@example.net.', 0, "allows it"),
            ("upper case: a stranger", "plain", "carol@example.com", "AGENT@Example.NET", 1,
             "may not send task.dispatch to agent@example.net"),
        ]
        for label, conf, sender, rcpt, want_exit, want_reason in rows:
            with self.subTest(label):
                code, out = self.explain(conf, sender, rcpt)
                self.assertEqual(code, want_exit, out)
                self.assertIn(want_reason, out["reason"])
                check_code, decision = self.check(conf, sender, rcpt)
                self.assertEqual(check_code, code, decision)
                if code == 1:  # the milter refuses with explain's words
                    self.assertEqual(decision["reply"], "550 5.7.1 " + out["reason"])
                else:
                    self.assertEqual(decision["verdict"], "accept", decision)

    def test_pair_issue_binds_the_code_where_the_milter_redeems_it(self):
        p = self.ctl("-c", self.conf["delimiter"], "--json", "pair", "issue", "--mailbox", "agent+x@example.net")
        self.assertEqual(p.returncode, 0, p.stderr)
        issued = json.loads(p.stdout)
        self.assertEqual(issued["mailbox"], "agent+x@example.net")
        self.assertIn("the code is bound to agent@example.net", p.stderr)
        with open(self.eml, "w", newline="") as f:
            f.write("\r\n".join(["From: <newbie@example.org>", "To: agent+x@example.net", "Subject: pair",
                                  "Message-ID: <pair-1@example.org>", "X-AAMP-Version: 1.1",
                                  "X-AAMP-Intent: pair.request", "X-AAMP-TaskId: pair-1",
                                  f"X-AAMP-Pair-Code: {issued['code']}"]) + "\r\n\r\nbody\r\n")
        p = self.ctl("-c", self.conf["delimiter"], "--json", "check", self.eml, "--rcpt", "agent+x@example.net",
                     "--auth-user", "newbie@example.org")
        self.assertEqual(json.loads(p.stdout)["policyVerdict"], "pair-completed", p.stdout)
        # Without RecipientDelimiter the milter does not deliver agent+x@ to agent@: no mailbox.
        p = self.ctl("-c", self.conf["plain"], "pair", "issue", "--mailbox", "agent+x@example.net")
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("agent+x@example.net is not a protected mailbox", p.stderr)

    def test_global_report_mode_is_named(self):
        code, out = self.explain("report", "carol@example.com", "agent@example.net")
        self.assertEqual(code, 1, out)
        self.assertTrue(out["reason"].endswith("(Mode report: delivered anyway)"), out)


if __name__ == "__main__":
    unittest.main()
