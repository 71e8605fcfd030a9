"""aamp_stack — the whole product on loopback for end-to-end tests: a policy database made
with the real aampctl, the real aamp-milter attached to a throwaway Postfix
(postfix_harness), and AAMP message builders. Standard library only; binaries come from
AAMPCTL and AAMP_MILTER. Reads the database only through aampctl, except the outbox, read
with sqlite3 in read-only mode (docs/schema.md) to tell "pending" from "sent".
One test thread drives a stack; sending may happen from many threads.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import time
import unittest
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Iterable, Optional, Sequence

import postfix_harness as h

DOMAIN = "example.test"
AUTHSERV_ID = "aamp.example.test"
PASSWORD = "e2e-secret"


def login_for(address: str) -> tuple[str, str]:
    """Every test user's SASL login is its address; all share one password."""
    return (address, PASSWORD)


def b64url_json(value) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_task_id() -> str:
    return str(uuid.uuid4())


def aamp_message(sender: str, to: str, intent: str, *, task_id: Optional[str] = None,
                 fields: Optional[dict[str, str]] = None, subject: Optional[str] = None,
                 body: str = "AAMP end-to-end test\n") -> EmailMessage:
    """An AAMP 1.1 mail: X-AAMP-Version, -Intent, -TaskId, then `fields` as X-AAMP-<name>."""
    headers = {"X-AAMP-Version": "1.1", "X-AAMP-Intent": intent,
               "X-AAMP-TaskId": task_id or new_task_id()}
    for name, value in (fields or {}).items():
        headers[f"X-AAMP-{name}"] = value
    return h.make_message(sender, to, subject or f"[AAMP] {intent}", body, headers=headers)


def dispatch(sender: str, to: str, context: Optional[str] = None, **kw) -> EmailMessage:
    fields = {"Priority": "normal"}
    if context is not None:
        fields["Dispatch-Context"] = context
    return aamp_message(sender, to, "task.dispatch", fields=fields, **kw)


def pair_request(sender: str, to: str, code: str, rules: Optional[dict] = None, **kw) -> EmailMessage:
    # As the reference SDK writes it: the rules as base64url JSON ("e30" = {}), and the
    # code in clear in the body too (which is why bodies never reach logs).
    fields = {"Pair-Code": code, "Dispatch-Context-Rules": b64url_json(rules or {})}
    return aamp_message(sender, to, "pair.request", fields=fields,
                        body=f"Pairing request.\nPair code: {code}\n", **kw)


class AampCtl:
    """The real aampctl against one database."""

    def __init__(self, db: Path, binary: Optional[str] = None) -> None:
        self.binary = binary or os.environ.get("AAMPCTL", "")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise h.HarnessError(f"no aampctl binary (AAMPCTL={self.binary!r})")
        self.db = db

    def run(self, *args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess:
        argv = [self.binary, "--db", str(self.db), *args]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise h.HarnessError(f"{' '.join(argv)} -> {p.returncode}\n{p.stdout}{p.stderr}")
        return p

    def json(self, *args: str, timeout: float = 30.0):
        """The command's --json output: one JSON document, or one per line (a list)."""
        out = self.run("--json", *args, timeout=timeout).stdout.strip()
        try:
            return json.loads(out) if out else None
        except json.JSONDecodeError:
            return [json.loads(line) for line in out.splitlines() if line.strip()]

    def init(self) -> None:
        self.run("init")

    def add_mailbox(self, address: str) -> None:
        self.run("mailbox", "add", address)

    def allow_sender(self, mailbox: str, pattern: str) -> None:
        self.run("sender", "allow", "--mailbox", mailbox, pattern)

    def issue_code(self, mailbox: str, ttl: str = "5m", rules: Optional[dict] = None) -> str:
        """A fresh pair code from `pair issue --json` (the clear code is shown only here).
        rules: {"key": ["v1", "v2"]}, passed as --rules key=v1,v2."""
        args = ["pair", "issue", "--mailbox", mailbox, "--ttl", ttl]
        for key, values in (rules or {}).items():
            args += ["--rules", f"{key}={','.join(values)}"]
        doc = self.json(*args)
        code = doc.get("code") if isinstance(doc, dict) else None
        if not code:
            raise h.HarnessError(f"pair issue --json gave no code: {doc}")
        return code

    def audit(self, *filters: str) -> list[dict]:
        """Audit rows, oldest first (keys as `aampctl --json audit` prints them: recipient,
        verdict, taskId, reason, ...)."""
        return self.json("audit", *filters) or []


class AampStack:
    """Postfix + aamp-milter + database under one temp root.

    agents: protected mailboxes (each gets a Maildir and `aampctl mailbox add`).
    users: plain local mailboxes with SASL logins (requesters, senders).
    Agents get SASL logins too (an agent may pair with another agent).
    reply_gate: ReplyTransport goes through ROOT/reply-gate, which fails with EX_TEMPFAIL
        while ROOT/reply-hold exists and otherwise runs the instance's sendmail -C.
    milter_config: extra `Key value` lines for aamp-milter.conf; a key given there replaces
        the stack's default line for it (ReplyTransport, ReplyRetryInitial, ...).
    unix_socket: the milter listens on ROOT/run/aamp-milter.sock instead of a TCP port
        (add SocketMode/SocketOwner lines so that user postfix may connect).
    """

    def __init__(self, *, agents: Iterable[str], users: Iterable[str] = (),
                 reply_gate: bool = False, milter_config: Sequence[str] = (),
                 unix_socket: bool = False) -> None:
        self.agents = [a.lower() for a in agents]
        self.users = [u.lower() for u in users]
        self.reply_gate = reply_gate
        self.extra_config = list(milter_config)
        h.reap_orphans()
        self.root = h.make_root()
        self.db = self.root / "aamp.db"
        self.milter_port = h.free_ports(1)[0]
        self.socket_path = self.root / "run" / "aamp-milter.sock" if unix_socket else None
        postfix_spec = (f"unix:{self.socket_path}" if self.socket_path
                        else f"inet:127.0.0.1:{self.milter_port}")
        self.postfix = h.PostfixInstance(
            self.root, milter=postfix_spec,
            mailboxes=self.agents + self.users,
            sasl_users={a: PASSWORD for a in self.agents + self.users})
        self.ctl = AampCtl(self.db)
        self.milter: Optional[h.MilterProcess] = None

    # -- life cycle ----------------------------------------------------------------------

    def milter_config(self) -> str:
        transport = " ".join(self.postfix.sendmail_command)
        if self.reply_gate:
            transport = f"{self.gate_path} -C {self.postfix.config_dir}"
        lines = [
            "# written by tests/e2e/aamp_stack.py",
            (f"Socket unix:{self.socket_path}" if self.socket_path
             else f"Socket inet:{self.milter_port}@127.0.0.1"),
            f"Database {self.db}",
            f"AuthservID {AUTHSERV_ID}",
            "Mode enforce",
            "PairRequests consume",
            # No InternalHosts: every test client is 127.0.0.1, and trust must come from
            # SMTP AUTH, not from the address.
            f"ReplyTransport sendmail:{transport}",
            "ReplyRetryInitial 1s",
            "ReplyRetryMax 2s",
            "ReplyPollInterval 1s",
            "Syslog no",
        ]
        def key(line: str) -> str:
            words = line.split(None, 1)
            return words[0].lower() if words and not words[0].startswith("#") else ""
        overridden = {key(line) for line in self.extra_config} - {""}
        lines = [line for line in lines if key(line) not in overridden]
        return "\n".join(lines + self.extra_config) + "\n"

    @property
    def gate_path(self) -> Path:
        return self.root / "reply-gate"

    @property
    def hold_path(self) -> Path:
        return self.root / "reply-hold"

    def _write_gate(self) -> None:
        self.gate_path.write_text(
            "#!/bin/sh\n"
            "# reply-gate: the reply transport of the outage tests. Fails (EX_TEMPFAIL) while\n"
            "# reply-hold exists, else hands over to the real sendmail of the test instance.\n"
            f"echo \"$$ $*\" >> {self.root / 'reply-gate.calls'}\n"
            f"if [ -e {self.hold_path} ]; then echo 'reply gate closed' >&2; exit 75; fi\n"
            f"exec {h.SENDMAIL} \"$@\"\n")
        self.gate_path.chmod(0o755)

    def start(self) -> None:
        try:
            self.ctl.init()
            for agent in self.agents:
                self.ctl.add_mailbox(agent)
            if self.reply_gate:
                self._write_gate()
            if self.socket_path:
                self.socket_path.parent.mkdir(mode=0o755, exist_ok=True)
            self.postfix.start()
            ready = (("unix", str(self.socket_path)) if self.socket_path
                     else ("inet", "127.0.0.1", self.milter_port))
            self.milter = h.MilterProcess(self.root, self.milter_config(), ready=ready)
            self.milter.start()
        except BaseException:
            self.close()
            raise

    def restart_milter(self, milter_config: Optional[Sequence[str]] = None) -> None:
        """Stops the milter (SIGTERM), rewrites its config with these extra lines (when
        given) and starts it again: for settings that apply at startup only."""
        assert self.milter is not None
        self.milter.stop()
        if milter_config is not None:
            self.extra_config = list(milter_config)
            self.milter.config_path.write_text(self.milter_config())
        self.milter.start()

    def close(self) -> None:
        try:
            try:
                if self.milter is not None:
                    self.milter.close()
            finally:
                self.postfix.close()
        finally:
            if not os.environ.get("AAMP_E2E_KEEP"):
                shutil.rmtree(self.root, ignore_errors=True)

    # -- observing -------------------------------------------------------------------------

    def diagnostics(self) -> str:
        parts = [self.postfix.diagnostics()]
        if self.milter is not None:
            parts.append(self.milter.log_tail())
        return "\n".join(parts)

    def outbox(self) -> list[dict]:
        """The outbox rows (read-only SQLite; the daemon keeps writing meanwhile)."""
        uri = f"file:{self.db}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=5.0) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM outbox ORDER BY id")]

    def pending_replies(self) -> list[dict]:
        return [r for r in self.outbox() if r["sent_at"] is None and r["abandoned_at"] is None]

    def replies(self, mailbox: str, task_id: Optional[str] = None,
                headers_only: bool = False) -> list[EmailMessage]:
        """pair.respond messages delivered to `mailbox` (for `task_id` when given)."""
        out = []
        for m in self.postfix.messages(mailbox, headers_only):
            if (m.get("X-AAMP-Intent") or "").strip() != "pair.respond":
                continue
            if task_id is not None and (m.get("X-AAMP-TaskId") or "").strip() != task_id:
                continue
            out.append(m)
        return out

    def wait_reply(self, mailbox: str, task_id: str, timeout: float = 20.0) -> EmailMessage:
        """The one pair.respond for `task_id` in `mailbox`, waiting for it to arrive."""
        found = h.wait_until(lambda: self.replies(mailbox, task_id), timeout,
                             f"pair.respond for TaskId {task_id} in {mailbox}",
                             detail=self.diagnostics)
        return found[0]

    def wait_settled(self, timeout: float = 20.0) -> None:
        """Waits until no reply is pending in the outbox and the Postfix queue is empty
        (twice in a row, so that a reply sent meanwhile has been delivered too)."""
        def settled() -> bool:
            return not self.pending_replies() and self.postfix.queue_size(
                ("maildrop", "incoming", "active", "deferred")) == 0
        h.wait_until(lambda: settled() and (time.sleep(0.1) or settled()), timeout,
                     "the outbox and the Postfix queue to be empty", detail=self.diagnostics)


class StackTestCase(unittest.TestCase):
    """A test class sharing one AampStack; subclasses set AGENTS and USERS."""

    AGENTS: Sequence[str] = ()
    USERS: Sequence[str] = ()
    REPLY_GATE = False
    UNIX_SOCKET = False
    MILTER_CONFIG: Sequence[str] = ()
    stack: AampStack

    @classmethod
    def setUpClass(cls):
        for name in ("AAMP_MILTER", "AAMPCTL"):
            path = os.environ.get(name, "")
            if not path:  # CMake sets it empty while the target does not exist yet
                raise unittest.SkipTest(f"{name}: no such target in this build")
            if not os.access(path, os.X_OK):  # a target that exists but was not built: fail
                raise h.HarnessError(f"{name}={path} is not an executable: build it first")
        cls.stack = AampStack(agents=cls.AGENTS, users=cls.USERS, reply_gate=cls.REPLY_GATE,
                              milter_config=cls.MILTER_CONFIG, unix_socket=cls.UNIX_SOCKET)
        cls.addClassCleanup(cls.stack.close)
        cls.stack.start()

    @property
    def pf(self) -> h.PostfixInstance:
        return self.stack.postfix

    def fail_with_logs(self, msg: str) -> None:
        self.fail(f"{msg}\n{self.stack.diagnostics()}")

    def assertAccepted(self, result: h.SmtpResult, what: str) -> None:
        if not result.accepted:
            self.fail_with_logs(f"{what}: expected 250 after DATA, got {result}")

    def assertRefused(self, result: h.SmtpResult, code: int, enhanced: str, what: str) -> None:
        if result.accepted or result.code != code or not result.text.startswith(enhanced):
            self.fail_with_logs(f"{what}: expected {code} {enhanced}, got {result}")

    def submit(self, sender: str, to: str | Sequence[str], msg: EmailMessage) -> h.SmtpResult:
        """Authenticated submission as `sender` (its own login)."""
        return self.pf.send(sender, to, msg, login=login_for(sender))

    def authres(self, msg: EmailMessage) -> list[str]:
        """The Authentication-Results values that carry our authserv-id."""
        return [v for v in msg.get_all("Authentication-Results", [])
                if str(v).strip().lower().startswith(AUTHSERV_ID)]
