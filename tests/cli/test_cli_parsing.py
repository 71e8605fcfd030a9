"""test_cli_parsing.py — aampctl's argument parsing (CLI11, docs/cli.md "Arguments"): every
documented command's own --help, `--` before a positional that begins with '-', global
options before and after the command, and usage errors that name the argument at fault
with exit status 2 and nothing written.

The commands and their flags are read from docs/cli.md's synopsis lines, so a command
documented there without a --help of its own, or a flag its --help does not name, fails.

Environment: AAMPCTL (the binary under test), AAMP_SOURCE_DIR (for docs/cli.md).
Python standard library only.
"""
import json
import os
import re
import sqlite3
import subprocess
import tempfile
import unittest

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")
SOURCE = os.environ.get("AAMP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
GLOBAL_FLAGS = {"-c", "--config", "--db", "--json"}


def run(*args, stdin=None):
    return subprocess.run([AAMPCTL] + list(args), input=stdin, capture_output=True, text=True, timeout=60)


def documented_commands():
    """{"pair issue": {"--mailbox", "--ttl", ...}, ...} from the synopsis lines of docs/cli.md:
    the lines of code blocks (fenced or indented) that begin with `aampctl`."""
    with open(os.path.join(SOURCE, "docs", "cli.md"), encoding="utf-8") as f:
        text = f.read()
    lines = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            lines.append(line.strip())
    commands = {}
    for line in lines:
        if not line.startswith("aampctl "):
            continue
        words = re.sub(r"\[-c FILE\]\s*", "", line).split()[1:]
        path = []
        for w in words:
            if not re.fullmatch(r"[a-z]+", w):
                break
            path.append(w)
        if not path:  # the global synopsis line
            continue
        flags = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", " ".join(words[len(path):]))) - GLOBAL_FLAGS
        commands.setdefault(" ".join(path), set()).update(flags)
    return commands


class PerCommandHelp(unittest.TestCase):
    def test_every_documented_command_has_its_own_help(self):
        commands = documented_commands()
        for name in ("init", "migrate", "export", "import", "mailbox add", "mailbox set", "mailbox list",
                     "mailbox remove", "sender allow", "sender list", "sender remove", "pair issue", "pair list",
                     "pair revoke", "audit", "audit export", "explain", "check", "validate"):
            self.assertIn(name, commands, "docs/cli.md has no synopsis line for it")
        global_usage = run("--help").stdout
        for name, flags in sorted(commands.items()):
            with self.subTest(command=name):
                p = run(*name.split(), "--help")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "")
                self.assertTrue(p.stdout.startswith(f"usage: aampctl {name}"), p.stdout)
                self.assertNotEqual(p.stdout, global_usage)
                for flag in flags | {"--help"}:
                    self.assertRegex(p.stdout, rf"(?m)^\s+(-\w,)?{re.escape(flag)}\b", f"{name} --help does not name {flag}")
                # The same text from `aampctl help COMMAND`, and with global options around it.
                self.assertEqual(run("help", *name.split()).stdout, p.stdout)
                self.assertEqual(run("--db", "/nonexistent/x.db", *name.split(), "-h", "--json").stdout, p.stdout)

    def test_groups_list_their_commands(self):
        for group, subs in (("mailbox", ["add", "set", "list", "remove"]), ("sender", ["allow", "list", "remove"]),
                            ("pair", ["issue", "list", "revoke"]), ("audit", ["export", "prune"]),
                            ("outbox", ["list", "retry", "drop"])):
            with self.subTest(group=group):
                p = run(group, "--help")
                self.assertEqual(p.returncode, 0, p.stderr)
                for sub in subs:
                    self.assertRegex(p.stdout, rf"(?m)^\s+{sub}\s")

    def test_global_help_and_no_command(self):
        for args in (["--help"], ["-h"], ["help"]):
            with self.subTest(args=args):
                p = run(*args)
                self.assertEqual(p.returncode, 0)
                self.assertTrue(p.stdout.startswith("usage: aampctl [-c FILE] [--db PATH] [--json] COMMAND"), p.stdout)
                self.assertIn("aampctl -V (--version) prints the version", p.stdout)
        for flag in ("-V", "--version"):
            p = run(flag)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^aampctl \S+", p.stdout)
        p = run()
        self.assertEqual(p.returncode, 2)
        self.assertTrue(p.stderr.startswith("usage: aampctl"), p.stderr)
        p = run("help", "pair", "bogus")
        self.assertEqual(p.returncode, 2)
        self.assertIn("aampctl: help: no command 'bogus' under pair", p.stderr)


class Database(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-cli-parsing-")
        self.db = os.path.join(self.tmp.name, "policy.db")
        for args in (["init"], ["mailbox", "add", "agent@example.com"]):
            p = run("--db", self.db, *args)
            self.assertEqual(p.returncode, 0, p.stderr)

    def tearDown(self):
        self.tmp.cleanup()

    def rows(self):
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return [con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                    for t in ("mailboxes", "sender_rules", "pair_codes", "audit", "outbox")]
        finally:
            con.close()

    def refused(self, args, *wants):
        before = self.rows()
        p = run("--db", self.db, *args)
        self.assertEqual(p.returncode, 2, f"{args}: {p.stdout} {p.stderr}")
        self.assertEqual(p.stdout, "")
        self.assertTrue(p.stderr.startswith("aampctl: "), p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        for want in wants:
            self.assertIn(want, p.stderr, args)
        self.assertEqual(self.rows(), before, f"{args} changed the database")
        return p.stderr

    def test_double_dash_lets_a_pattern_begin_with_a_dash(self):
        self.refused(["sender", "allow", "--mailbox", "agent@example.com", "-weird@x.example"],
                     "unexpected argument '-weird@x.example'", "goes after --")
        p = run("--db", self.db, "--json", "sender", "allow", "--mailbox", "agent@example.com", "--", "-weird@x.example")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["pattern"], "-weird@x.example")
        # After --, an option's name is a positional too: it is not taken as --json.
        self.refused(["sender", "allow", "--mailbox", "agent@example.com", "--", "-x@y.example", "--json"],
                     "unexpected argument")
        # Options may still come before --, and the ids and addresses of other commands work the same way.
        p = run("--db", self.db, "mailbox", "add", "--mode", "report", "--", "-bot@example.com")
        self.assertEqual(p.returncode, 0, p.stderr)
        listed = json.loads(run("--db", self.db, "--json", "mailbox", "list").stdout)
        self.assertIn(("-bot@example.com", "report"), [(m["address"], m["mode"]) for m in listed])
        rules = json.loads(run("--db", self.db, "sender", "list", "--json").stdout)
        self.assertEqual([r["pattern"] for r in rules], ["-weird@x.example"])
        self.refused(["sender", "remove", "--", "-1"], "rule ID '-1' is not a number")
        p = run("--db", self.db, "sender", "remove", "--", str(rules[0]["id"]))
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_global_options_before_and_after_the_command(self):
        conf = os.path.join(self.tmp.name, "aamp-milter.conf")
        with open(conf, "w") as f:
            f.write(f"Database {self.db}\n")
        for args in (["--db", self.db, "--json", "mailbox", "list"],
                     ["mailbox", "list", "--db", self.db, "--json"],
                     ["mailbox", "--json", "list", f"--db={self.db}"],
                     ["-c", conf, "mailbox", "list", "--json"],
                     ["mailbox", "list", "--config", conf, "--json"],
                     ["--json", "mailbox", "list", "-c", conf]):
            with self.subTest(args=args):
                p = run(*args)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual([m["address"] for m in json.loads(p.stdout)], ["agent@example.com"])

    def test_unknown_flags_commands_and_missing_values(self):
        self.refused(["mailbox", "add", "new@example.com", "--bogus"], "unexpected argument '--bogus'",
                     "aampctl mailbox add --help")
        self.refused(["pair", "issue", "--mailbox", "agent@example.com", "--ttl"], "--ttl needs a value")
        self.refused(["pair", "issue", "--mailbox", "agent@example.com", "--ttl", "1h", "--ttl", "2h"],
                     "--ttl may be given only once")
        self.refused(["pair", "explode"], "unknown pair command 'explode' (issue, list, revoke)")
        self.refused(["pair"], "pair: give issue, list or revoke")
        self.refused(["frobnicate"], "unknown command 'frobnicate'")
        self.refused(["--frobnicate", "mailbox", "list"], "unexpected argument '--frobnicate'")
        self.refused(["sender", "remove", "1", "2"], "unexpected argument '2'")
        self.refused(["mailbox", "add", "list"], "'list' is not a mailbox address")  # a positional, not a command

    def test_missing_required_options_are_named(self):
        self.refused(["pair", "issue"], "--mailbox M is required")
        self.refused(["sender", "allow", "a@b.example"], "--mailbox M is required")
        self.refused(["explain", "--to", "agent@example.com"], "--from ADDRESS is required")
        self.refused(["explain", "--from", "a@b.example"], "--to ADDRESS is required")
        self.refused(["audit", "prune"], "--before")
        self.refused(["sender", "remove"], "missing rule ID")
        self.refused(["mailbox", "add"], "missing ADDRESS_OR_@DOMAIN")
        eml = os.path.join(self.tmp.name, "m.eml")
        with open(eml, "w") as f:
            f.write("From: a@b.example\r\n\r\n")
        self.refused(["check", eml], "at least one --rcpt")


if __name__ == "__main__":
    unittest.main()
