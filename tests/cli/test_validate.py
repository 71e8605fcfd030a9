"""test_validate.py — the real `aampctl validate` on the sample mails in tests/cli/data/:
text and --json output (one line per file), both modes, stdin, exit statuses (0 none
invalid, 1 any invalid, 2 usage or I/O error with a message on stderr), the header
section read alone, and pair codes never echoed.

Environment: AAMPCTL (the binary under test). Python standard library only.
"""
import json
import os
import subprocess
import tempfile
import unittest

AAMPCTL = os.environ.get("AAMPCTL", "aampctl")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def data(name):
    return os.path.join(DATA, name)


def run(*args, stdin=None):
    return subprocess.run([AAMPCTL] + list(args), input=stdin, capture_output=True, timeout=60)


def json_lines(p):
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


class Verdicts(unittest.TestCase):
    def test_table(self):
        rows = [
            # label, args, want exit, want verdicts in order
            ("valid dispatch (CRLF, folded)", ["dispatch.eml"], 0, ["valid"]),
            ("plain mail", ["plain.eml"], 0, ["not-aamp"]),
            ("rejected pair response", ["result-rejected.eml"], 0, ["valid"]),
            ("minimal strict", ["minimal.eml"], 1, ["invalid"]),
            ("minimal sdk", ["--mode", "sdk", "minimal.eml"], 0, ["valid"]),
            ("minimal sdk, option last", ["minimal.eml", "--mode=sdk"], 0, ["valid"]),
            ("duplicate intent", ["duplicate-intent.eml"], 1, ["invalid"]),
            ("duplicate intent sdk", ["--mode", "sdk", "duplicate-intent.eml"], 1, ["invalid"]),
            ("several files", ["dispatch.eml", "plain.eml", "duplicate-intent.eml"], 1,
             ["valid", "not-aamp", "invalid"]),
        ]
        for label, args, want_exit, want in rows:
            with self.subTest(label):
                files = [data(a) if a.endswith(".eml") else a for a in args]
                p = run("validate", "--json", *files)
                self.assertEqual(p.returncode, want_exit, p.stderr)
                self.assertEqual([o["verdict"] for o in json_lines(p)], want)
                t = run("validate", *files)
                self.assertEqual(t.returncode, want_exit, t.stderr)
                lines = t.stdout.decode().splitlines()
                self.assertEqual(len(lines), len(want))
                for line, verdict in zip(lines, want):
                    self.assertRegex(line, r": " + verdict + r"\b")


class JsonOutput(unittest.TestCase):
    def test_valid_fields_and_key_order(self):
        p = run("validate", "--json", data("dispatch.eml"))
        self.assertEqual(p.returncode, 0, p.stderr)
        line = p.stdout.decode().strip()
        obj = json.loads(line)
        self.assertEqual(list(obj), ["file", "verdict", "intent", "taskId", "version", "errors"])
        self.assertEqual(obj["file"], data("dispatch.eml"))
        self.assertEqual(obj["intent"], "task.dispatch")
        self.assertEqual(obj["taskId"], "task-context-1")
        self.assertEqual(obj["version"], "1.1")
        self.assertEqual(obj["errors"], [])

    def test_invalid_lists_errors(self):
        p = run("validate", "--json", data("minimal.eml"))
        self.assertEqual(p.returncode, 1)
        obj = json_lines(p)[0]
        self.assertEqual(obj["errors"], [{"code": "missing-field", "field": "X-AAMP-Version",
                                          "message": "X-AAMP-Version is required on every AAMP message"}])
        self.assertEqual(obj["intent"], "task.dispatch")

    def test_not_aamp_has_nulls(self):
        obj = json_lines(run("validate", "--json", data("plain.eml")))[0]
        self.assertEqual((obj["intent"], obj["taskId"], obj["version"], obj["errors"]), (None, None, None, []))

    def test_global_json_before_command(self):
        p = run("--json", "validate", data("duplicate-intent.eml"))
        self.assertEqual(p.returncode, 1)
        obj = json_lines(p)[0]
        self.assertEqual([(e["code"], e["field"]) for e in obj["errors"]], [("duplicate-field", "X-AAMP-Intent")])

    def test_pair_code_never_echoed(self):
        for args in (["--json"], []):
            p = run("validate", *args, data("pair-request-bad.eml"))
            self.assertEqual(p.returncode, 1)
            out = p.stdout.decode() + p.stderr.decode()
            self.assertIn("duplicate-field", out)
            self.assertNotIn("s3cretC0de", out)
            self.assertNotIn("0therC0de", out)


class Input(unittest.TestCase):
    def test_stdin(self):
        with open(data("dispatch.eml"), "rb") as f:
            p = run("validate", "--json", "-", stdin=f.read())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json_lines(p)[0]["file"], "-")

    def test_lf_and_header_only(self):
        text = b"From: a@example.com\nX-AAMP-Version: 1.1\nX-AAMP-Intent: card.query\nX-AAMP-TaskId: c-1"
        p = run("validate", "-", stdin=text)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.decode(), "-: valid card.query task c-1 version 1.1\n")

    def test_body_is_not_read_as_headers(self):
        # dispatch.eml has "X-AAMP-Intent: task.cancel" in its body: no duplicate-field.
        p = run("validate", "--json", data("dispatch.eml"))
        self.assertEqual(json_lines(p)[0]["verdict"], "valid")

    def test_large_body_is_fine(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "big.eml")
            with open(path, "wb") as f:
                f.write(b"From: a@example.com\r\nX-AAMP-Intent: task.ack\r\nX-AAMP-TaskId: t\r\n\r\n")
                f.write(b"x" * (3 << 20))
            p = run("validate", "--mode", "sdk", path)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_oversized_header_section(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "huge.eml")
            with open(path, "wb") as f:
                f.write(b"X-AAMP-Intent: task.ack\n" + b"X-Filler: " + b"y" * (2 << 20) + b"\n\n")
            p = run("validate", path)
            self.assertEqual(p.returncode, 2)
            self.assertIn(b"header section is longer than", p.stderr)
            self.assertEqual(p.stdout, b"")


class Errors(unittest.TestCase):
    def test_usage_and_io(self):
        missing = data("does-not-exist.eml")
        rows = [
            ("no files", ["validate"], "at least one FILE"),
            ("bad mode", ["validate", "--mode", "lenient", data("dispatch.eml")], "--mode must be strict or sdk"),
            ("mode without value", ["validate", data("dispatch.eml"), "--mode"], "--mode needs a value"),
            ("unknown option", ["validate", "--frobnicate", data("dispatch.eml")], "unexpected argument"),
            ("stdin twice", ["validate", "-", "-"], "only once"),
            ("missing file", ["validate", missing], "cannot open " + missing),
            ("directory", ["validate", DATA], DATA),
        ]
        for label, args, want in rows:
            with self.subTest(label):
                p = run(*args, stdin=b"")
                self.assertEqual(p.returncode, 2, p.stdout)
                self.assertIn(want, p.stderr.decode())
                self.assertTrue(p.stderr.decode().startswith("aampctl: "))

    def test_io_error_does_not_stop_other_files(self):
        p = run("validate", "--json", data("does-not-exist.eml"), data("dispatch.eml"), data("minimal.eml"))
        self.assertEqual(p.returncode, 2)
        self.assertEqual([o["verdict"] for o in json_lines(p)], ["valid", "invalid"])


if __name__ == "__main__":
    unittest.main()
