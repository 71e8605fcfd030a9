"""test_forged_verdicts — the differential test of issue 13: Authentication-Results fields
spelled so that some common reader takes them as written under our AuthservID are sent
through the real Postfix and the real aamp-milter, in plain mail (no AUTH, no AAMP headers)
and in allowed AAMP mail (authenticated task.dispatch); the delivered Maildir files are then
read by independent readers, and in each, only the milter's own verdict may read as ours.

Readers (each hands out the field values after its own decoding):
  compat32            Python email, policy.compat32, values through
                      email.header.decode_header/make_header (RFC 2047 decoded)
  default             Python email, policy.default (str() of the header: decoded)
  mailparser          Node mailparser simpleParser().headers            (tests/node)
  mailparser-decoded  the same, through libmime.decodeWords             (tests/node)
  raw-trim            the raw value, .trim()med, as the AAMP Node SDK treats every header
                      it gets from JMAP (tests/node/read_authres.js says more)
A value "reads as ours" when its authserv-id (the text before the first ';'), stripped the way
a consumer would (Python's .strip(), JavaScript's trim() and its BOM, one trailing dot,
casefold), equals our AuthservID. Before anything is sent, the same readers over the bytes as
sent show that every spelling (but the blank value) does read as ours somewhere: the test is
not vacuous. The milter's log must name each removal ("removed 1 forged verdict claiming our
authserv-id"), with the Postfix queue id. Needs tests/node/node_modules (scripts/install-deps).
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import subprocess
import unittest
from email.header import decode_header, make_header
from pathlib import Path

import aamp_stack as s
import postfix_harness as h

AGENT = f"agent@{s.DOMAIN}"
ALICE = f"alice@{s.DOMAIN}"
OUTSIDER = "bob@other.test"
OURS = s.AUTHSERV_ID.encode()
UPSTREAM = "mx.upstream.test; spf=pass smtp.mailfrom=other.test"  # another verifier's: kept

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
READERS = ("compat32", "default", "mailparser", "mailparser-decoded", "raw-trim")


def utf8(ch: str) -> bytes:
    return ch.encode("utf-8")


# label, the authserv-id as sent (None: a blank value), whether some reader reads the field
# as ours when it is sent (the blank one reads as nobody's: Stalwart makes it of a value
# that is not UTF-8, and the milter removes it too).
SPELLINGS = [
    ("exact", OURS, True),
    ("encoded-word q", b"=?utf-8?q?" + OURS + b"?=", True),
    ("encoded-word b", b"=?utf-8?b?" + base64.b64encode(OURS) + b"?=", True),
    ("split encoded-words", b"=?utf-8?q?aamp.exa?= =?utf-8?q?mple.test?=", True),
    ("vertical tab", OURS + b"\x0b", True),
    ("form feed", OURS + b"\x0c", True),
    ("NBSP", OURS + utf8("\u00a0"), True),
    ("U+3000", OURS + utf8("\u3000"), True),
    ("U+2028", OURS + utf8("\u2028"), True),
    ("U+0085", OURS + utf8("\u0085"), True),
    ("leading BOM", utf8("\ufeff") + OURS, True),
    ("trailing dot", OURS + b".", True),
    ("upper case", OURS.upper(), True),
    ("folded", b"\r\n\t" + OURS, True),
    ("leading tab", b"\t" + OURS, True),
    ("blank value", None, False),
]


def forged_line(authserv_id: bytes | None, n: int) -> bytes:
    if authserv_id is None:
        return b"Authentication-Results:\r\n"
    return b"Authentication-Results: " + authserv_id + b"; aamp=pass policy.forged=" + str(n).encode() + b"\r\n"


def with_fields(msg, *lines: bytes) -> bytes:
    """The message as SMTP bytes with these raw header lines at the top."""
    return b"".join(lines) + msg.as_bytes(policy=email.policy.SMTP)


# -- readers ------------------------------------------------------------------------------


def python_compat32(raw: bytes) -> list[str]:
    out = []
    for v in email.message_from_bytes(raw, policy=email.policy.compat32).get_all("Authentication-Results", []):
        try:
            out.append(str(make_header(decode_header(v))))
        except Exception:  # what a consumer falls back to: the value as it came
            out.append(str(v))
    return out


def python_default(raw: bytes) -> list[str]:
    return [str(v) for v in email.message_from_bytes(raw, policy=email.policy.default)
            .get_all("Authentication-Results", [])]


def node_readers(files: list[Path]) -> dict[str, dict[str, list[str]]]:
    """{file: {reader: values}} from tests/node/read_authres.js."""
    if not (NODE_DIR / "node_modules" / "mailparser").is_dir():
        raise h.HarnessError(f"{NODE_DIR}/node_modules has no mailparser: run scripts/install-deps")
    run = subprocess.run(["node", str(NODE_DIR / "read_authres.js"), *map(str, files)],
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise h.HarnessError(f"read_authres.js -> {run.returncode}\n{run.stderr}")
    # One document a line, split on "\n" only: JSON leaves U+2028 and U+0085 unescaped, and
    # str.splitlines() would split on them.
    docs = [json.loads(line) for line in run.stdout.split("\n") if line.strip()]
    return {d["file"]: d["readers"] for d in docs}


def read_all(files: list[Path]) -> dict[Path, dict[str, list[str]]]:
    """Every reader's Authentication-Results values of each file."""
    node = node_readers(files)
    out = {}
    for f in files:
        raw = f.read_bytes()
        out[f] = {"compat32": python_compat32(raw), "default": python_default(raw), **node[str(f)]}
    return out


def consumer_id(value: str) -> str:
    """The authserv-id as a consumer compares it."""
    ident = value.split(";", 1)[0].strip().strip("\ufeff").strip()
    if ident.endswith("."):
        ident = ident[:-1]
    return ident.casefold()


def read_as_ours(values: list[str]) -> list[str]:
    return [v for v in values if consumer_id(v) == s.AUTHSERV_ID.casefold()]


class ForgedVerdictsThroughPostfix(s.StackTestCase):
    AGENTS = [AGENT]
    USERS = [ALICE]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack.ctl.allow_sender(AGENT, ALICE)

    def message(self, kind: str, n: int, label: str, authserv_id: bytes | None) -> tuple[str, bytes]:
        """(Message-ID, bytes) of the `kind` ("plain" or "aamp") mail carrying spelling n."""
        message_id = f"<forged-{kind}-{n}@client.example.test>"
        subject = f"forged verdict {n}: {label}"
        if kind == "plain":
            msg = h.make_message(OUTSIDER, AGENT, subject, message_id=message_id)
        else:
            msg = s.dispatch(ALICE, AGENT, subject=subject)
            msg.replace_header("Message-ID", message_id)
        upstream = f"Authentication-Results: {UPSTREAM}\r\n".encode()
        return message_id, with_fields(msg, forged_line(authserv_id, n), upstream)

    def send(self, kind: str, raw: bytes) -> h.SmtpResult:
        if kind == "plain":
            return self.pf.send(OUTSIDER, AGENT, raw)
        return self.submit(ALICE, AGENT, raw)

    def delivered_file(self, message_id: str) -> Path:
        def find():
            hits = [m.harness_path for m in self.pf.messages(AGENT, headers_only=True)
                    if (m["Message-ID"] or "").strip() == message_id]
            return hits or None
        hits = h.wait_until(find, 30.0, f"delivery of {message_id}", detail=self.stack.diagnostics)
        self.assertEqual(len(hits), 1, f"{message_id} delivered {len(hits)} times")
        return hits[0]

    def test_as_sent_every_spelling_but_the_blank_one_reads_as_ours_somewhere(self):
        sent_dir = self.stack.root / "as-sent"
        sent_dir.mkdir(exist_ok=True)
        files = []
        for n, (label, authserv_id, _) in enumerate(SPELLINGS):
            _, raw = self.message("plain", n, label, authserv_id)
            files.append(sent_dir / f"{n}.eml")
            files[-1].write_bytes(raw)
        readings = read_all(files)
        for n, (label, _, reads_as_ours) in enumerate(SPELLINGS):
            with self.subTest(label):
                by = [r for r, values in readings[files[n]].items() if read_as_ours(values)]
                self.assertEqual(bool(by), reads_as_ours, f"{label}: read as ours by {by}: {readings[files[n]]}")

    def test_only_our_own_verdict_reads_as_ours_after_the_milter(self):
        delivered = []  # (kind, label, file)
        for n, (label, authserv_id, _) in enumerate(SPELLINGS):
            for kind in ("plain", "aamp"):
                with self.subTest(kind=kind, spelling=label):
                    message_id, raw = self.message(kind, n, label, authserv_id)
                    result = self.send(kind, raw)
                    self.assertAccepted(result, f"{kind} mail with the {label} spelling")
                    notice = (f"{result.queue_id}: removed 1 forged verdict claiming our authserv-id: "
                              "Authentication-Results#1")
                    h.wait_until(lambda: notice in self.stack.milter.log_text(), 20.0,
                                 f"the removal notice {notice!r}", detail=self.stack.milter.log_tail)
                    delivered.append((kind, label, self.delivered_file(message_id)))
        readings = read_all([f for _, _, f in delivered])
        for kind, label, f in delivered:
            for reader in READERS:
                with self.subTest(kind=kind, spelling=label, reader=reader):
                    values = readings[f][reader]
                    ours = read_as_ours(values)
                    self.assertFalse([v for v in values if "policy.forged" in v], f"{f}: {values}")
                    self.assertTrue([v for v in values if consumer_id(v) == "mx.upstream.test"],
                                    f"another verifier's field must stay: {values}")
                    if kind == "plain":
                        self.assertEqual(ours, [], f"{f}: nothing of ours in plain mail: {values}")
                    else:
                        self.assertEqual(len(ours), 1, f"{f}: exactly our verdict: {values}")
                        self.assertIn("aamp=pass", ours[0])
                        self.assertIn(f"policy.rcpt={AGENT}", ours[0])
            # Our verdict and the upstream field, nothing else (the blank one is gone too).
            self.assertEqual(len(readings[f]["raw-trim"]), 1 if kind == "plain" else 2, readings[f])


if __name__ == "__main__":
    unittest.main()
