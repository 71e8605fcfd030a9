"""milter_harness — the real aamp-milter binary (env AAMP_MILTER) on 127.0.0.1 with a free
port and a temporary database, driven by Debian's miltertest (OpenDKIM's independent milter
client, Lua scripts). Standard library only. Every wait has a deadline; the milter is
stopped by its PID (SIGTERM, then SIGKILL) when the test ends.

A test describes one SMTP transaction as a Transaction; run() turns it into a Lua script,
runs miltertest, and parses what the script printed: the reply at each stage and what the
filter asked for at end of message (added/inserted/deleted headers, deleted recipients,
quarantine, the SMTP reply).
"""

from __future__ import annotations

import contextlib

import ctypes
import itertools
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

MILTERTEST = "/usr/bin/miltertest"

# Protocol step flags (libmilter/mfdef.h) for mt.negotiate.
SMFIP_NOHELO = 0x02
SMFIP_NOEOH = 0x40
SMFIP_SKIP = 0x400
# What Postfix 3.7 offers (every step flag it knows); what Stalwart offers (0x42).
POSTFIX_STEPS = 0x1FFFFF
STALWART_STEPS = SMFIP_NOHELO | SMFIP_NOEOH
# The macros Stalwart 0.16.19 sends at connect (crates/smtp/src/inbound/milter/message.rs:206-257);
# at MAIL only {mail_addr} (and {auth_authen} when authenticated), at RCPT {rcpt_addr}; never `i`.
STALWART_CONNECT_MACROS = {"{daemon_name}": "Stalwart v0.16.19", "j": "", "{client_addr}": "192.0.2.9",
                           "{client_port}": "50123", "{client_ptr}": "client.example.test"}

NEGOTIATED_ACTIONS = ("SMFIF_ADDHDRS", "SMFIF_CHGHDRS", "SMFIF_DELRCPT", "SMFIF_QUARANTINE", "SMFIF_CHGBODY",
                      "SMFIF_ADDRCPT", "SMFIF_CHGFROM")
NEGOTIATED_STEPS = ("SMFIP_SKIP", "SMFIP_NOCONNECT", "SMFIP_NOHELO", "SMFIP_NOMAIL", "SMFIP_NORCPT", "SMFIP_NOBODY",
                    "SMFIP_NOHDRS", "SMFIP_NOEOH", "SMFIP_NODATA", "SMFIP_NOUNKNOWN", "SMFIP_NR_HDR", "SMFIP_NR_CONN",
                    "SMFIP_NR_HELO", "SMFIP_NR_MAIL", "SMFIP_NR_RCPT", "SMFIP_NR_DATA", "SMFIP_NR_UNKN", "SMFIP_NR_EOH",
                    "SMFIP_NR_BODY")

_ids = itertools.count(1)


def unique_queue_id() -> str:
    """A queue id as Postfix makes them (upper-case hex), different for every transaction."""
    return "%X%05X" % (os.getpid() & 0xFFFF, next(_ids))


class FreshMessageId(str):
    """A Message-ID value that stands for a new one: every message the harness sends with it
    carries a Message-ID no message sent before had, as real mail does (the filter delivers
    one Message-ID once per protected recipient, so a "new" message with an old Message-ID
    is a copy). A test that means to send the same message again sets the value itself."""


FRESH_MESSAGE_ID = FreshMessageId("<fresh@example.test>")


def unique_message_id(domain: str = "example.test") -> str:
    """A Message-ID no other message of any test run has."""
    return f"<m.{secrets.token_hex(8)}@{domain}>"


REPLY_NAMES = {"c": "continue", "a": "accept", "r": "reject", "t": "tempfail", "d": "discard",
               "y": "replycode", "s": "skip", "\0": "none"}


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies (no orphaned milters)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# How long a wait for something that must happen (a start, a stop, a log line) may take
# before it counts as never: a bound for liveness on a loaded machine (and under valgrind),
# never a performance claim. A wait ends as soon as its condition holds.
PATIENCE = 30.0


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process. A zombie has exited: a detached daemon's parent is
    init, which may reap it long after it ended (this machine's init takes a second or more)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def lua_str(s: str) -> str:
    """A Lua 5.1 string literal for any text (decimal escapes for bytes outside printable ASCII)."""
    out = ['"']
    for b in s.encode("utf-8"):
        c = chr(b)
        if c in '"\\':
            out.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\%03d" % b)
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------------------------------
# The database, through aampctl (env AAMPCTL), as an operator would set it up; the audit
# trail through `aampctl audit export` (JSON lines).

class PolicyDb:
    def __init__(self, path: Path):
        self.path = path
        self.aampctl = os.environ.get("AAMPCTL", "")
        if not self.aampctl or not os.access(self.aampctl, os.X_OK):
            raise AssertionError(f"no aampctl binary (AAMPCTL={self.aampctl!r})")

    def ctl(self, *args: str) -> str:
        p = subprocess.run([self.aampctl, "--db", str(self.path), *args], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"aampctl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.stdout

    def add_mailbox(self, address: str, mode: str = "enforce") -> str:
        """Protects `address` ("agent@x" or "@domain"); returns it, for allow()."""
        self.ctl("mailbox", "add", address, "--mode", mode)
        return address

    def allow(self, mailbox: str, pattern: str) -> None:
        self.ctl("sender", "allow", "--mailbox", mailbox, pattern)

    def audit(self) -> list[dict]:
        return [json.loads(line) for line in self.ctl("audit", "export").splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------
# The milter process.

class Milter:
    """aamp-milter -f -c CONF on 127.0.0.1:PORT, logging to ROOT/milter.log."""

    def __init__(self, extra_config: str = "", *, database: Optional[str] = None,
                 authserv_id: str = "mx.example.test"):
        self.binary = os.environ.get("AAMP_MILTER", "")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise AssertionError(f"no aamp-milter binary (AAMP_MILTER={self.binary!r})")
        self._tmp = tempfile.TemporaryDirectory(prefix="aamp-blackbox-")
        self.root = Path(self._tmp.name)
        self.port = free_port()
        self.database = database or str(self.root / "aamp.db")
        self.db = PolicyDb(Path(self.database))
        if database is None:
            self.db.ctl("init")  # as an operator does: the daemon never creates a database
        self.config_path = self.root / "aamp-milter.conf"
        self.log_path = self.root / "milter.log"
        self.proc: Optional[subprocess.Popen] = None
        self.write_config(f"Socket inet:{self.port}@127.0.0.1\nDatabase {self.database}\n"
                          f"AuthservID {authserv_id}\nSyslog no\n" + extra_config)

    def write_config(self, text: str) -> None:
        self.config_text = text
        self.config_path.write_text(text)

    def start(self, timeout: float = PATIENCE, env: Optional[dict[str, str]] = None,
              wrapper: tuple[str, ...] = ()) -> "Milter":
        """env: the daemon's whole environment (default: the test's); wrapper: a command
        the daemon runs under (strace, say)."""
        log = open(self.log_path, "ab")
        started = self.log().count(" started: ")
        self.proc = subprocess.Popen([*wrapper, self.binary, "-f", "-c", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent, env=env)
        log.close()

        def ready():
            # The socket listens before the database is open: wait for the startup line.
            if self.proc.poll() is not None:
                raise AssertionError(f"aamp-milter exited early ({self.proc.returncode}):\n{self.log()}")
            return self.log().count(" started: ") > started

        wait_until(ready, timeout, f"aamp-milter to listen on port {self.port}")
        return self

    def stop(self, timeout: float = PATIENCE) -> Optional[int]:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            # Its log says where the shutdown stood (the milter's threads log each step).
            raise AssertionError(f"aamp-milter did not stop within {timeout}s of SIGTERM; its log:\n{self.log()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None and self.proc.poll() is None, "milter not running"
        self.proc.send_signal(sig)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle: str, timeout: float = PATIENCE, count: int = 1) -> str:
        wait_until(lambda: self.log().count(needle) >= count, timeout, f"{needle!r} in the milter log")
        return self.log()

    def close(self) -> None:
        """Stops the milter and checks how it ended: exit status 0, no sanitizer report."""
        try:
            status = self.stop()
            log = self.log()
            for needle in ("Sanitizer", "runtime error:"):
                if needle in log:
                    raise AssertionError(f"aamp-milter reported {needle!r}:\n{log}")
            if status not in (0, None):
                raise AssertionError(f"aamp-milter exited with status {status}:\n{log}")
        finally:
            self._tmp.cleanup()

    def __enter__(self) -> "Milter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, tx: "Transaction", timeout: float = 30.0) -> "Result":
        return run_transaction(f"inet:{self.port}@127.0.0.1", tx, self.root, timeout)

    def summaries(self, needle: str) -> list[dict[str, str]]:
        """The summary lines that contain `needle` (a queue id, "task=..."), parsed."""
        out = []
        for line in self.log().splitlines():
            if needle in line and " verdict=" in line:
                out.append(parse_summary(line))
        return out

    def summary(self, needle: str, timeout: float = PATIENCE) -> dict[str, str]:
        """The one summary line containing `needle`, once it is written."""
        wait_until(lambda: self.summaries(needle), timeout, f"a summary line with {needle!r}")
        lines = self.summaries(needle)
        assert len(lines) == 1, f"{len(lines)} summary lines with {needle!r}:\n{self.log()}"
        return lines[0]


_FIELD = re.compile(r'([a-z-]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_summary(line: str) -> dict[str, str]:
    """A summary line's fields; "id" is the message id it starts with."""
    m = re.search(r"\]: (?:\w+: )?(\S+): client=", line)
    fields = {"id": m.group(1) if m else ""}
    for key, value in _FIELD.findall(line[m.end() - len("client="):] if m else line):
        if value.startswith('"'):
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        fields[key] = value
    return fields


# ---------------------------------------------------------------------------------------
# One SMTP transaction as miltertest plays it.

@dataclass
class Transaction:
    mail_from: str = "<alice@example.test>"
    rcpts: list[str] = field(default_factory=lambda: ["<agent@example.test>"])
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = "hello\r\n"
    client_name: str = "client.example.test"
    client_addr: str = "192.0.2.9"
    helo: str = "client.example.test"
    connect_macros: dict[str, str] = field(default_factory=lambda: {"{daemon_name}": "mx.example.test"})
    mail_macros: dict[str, str] = field(default_factory=dict)
    rcpt_macros: Optional[dict[str, str]] = None  # None: {"i": queue_id}
    queue_id: str = field(default_factory=unique_queue_id)
    steps: int = POSTFIX_STEPS  # protocol steps the MTA offers
    # Names of headers to look up among those the filter added/inserted at end of message.
    look_for: list[str] = field(default_factory=lambda: ["Authentication-Results"])
    check_deleted: list[str] = field(default_factory=lambda: ["Authentication-Results"])
    messages: int = 1  # how many times to send the message on one connection


@dataclass
class Result:
    replies: dict[str, str]          # stage -> reply name (for messages > 1: "eom#2" ...)
    added: dict[str, list[str]]       # header -> values added/inserted at end of message
    deleted: dict[str, bool]          # header -> the filter deleted/changed it
    rcpt_deleted: dict[str, bool]
    quarantined: bool
    negotiated: dict[str, bool]       # SMFIF_*/SMFIP_* name -> the filter asked for it
    stdout: str
    stderr: str
    message_ids: list[str] = field(default_factory=list)  # each message's Message-ID as sent, in order

    @property
    def eom(self) -> str:
        return self.replies.get("eom", "")


def _script(spec: str, tx: Transaction, message_ids: list[str]) -> str:
    """The Lua script for `tx`; the Message-ID of each message it sends is appended to
    `message_ids` (FRESH_MESSAGE_ID made into a new one for each)."""
    L = []
    emit = L.append
    emit("mt.set_timeout(10)")
    emit(f"local conn = mt.connect({lua_str(spec)}, 50, 0.1)")
    emit('if conn == nil then error("cannot connect to the milter") end')
    emit(f"local err = mt.negotiate(conn, 6, {tx.steps}, nil)  -- (conn, version, steps, actions): the man page swaps the last two")
    emit('if err ~= nil then error("negotiate: " .. err) end')
    # What the filter asked for in negotiation: its actions and protocol steps.
    for name in NEGOTIATED_ACTIONS:
        emit(f"print('ACTION {name} ' .. tostring(mt.test_action(conn, {name})))")
    for name in NEGOTIATED_STEPS:
        emit(f"print('STEP {name} ' .. tostring(mt.test_option(conn, {name})))")
    emit('local function reply() local r = mt.getreply(conn); if r == nil then return "?" end; return string.char(r) end')
    emit('local function say(stage) print("REPLY " .. stage .. " " .. reply()) end')
    emit('local function ok(e, what) if e ~= nil then error(what .. ": " .. e) end end')

    def macro(kind: str, macros: dict[str, str]) -> None:
        if macros:
            args = ", ".join(f"{lua_str(k)}, {lua_str(v)}" for k, v in macros.items())
            emit(f"mt.macro(conn, {kind}, {args})")

    rcpt_macros = {"i": tx.queue_id} if tx.rcpt_macros is None else tx.rcpt_macros
    macro("SMFIC_CONNECT", tx.connect_macros)
    emit(f"ok(mt.conninfo(conn, {lua_str(tx.client_name)}, {lua_str(tx.client_addr)}), 'conninfo'); say('connect')")
    emit(f"ok(mt.helo(conn, {lua_str(tx.helo)}), 'helo'); say('helo')")
    for n in range(1, tx.messages + 1):
        suffix = "" if n == 1 else f"#{n}"
        macro("SMFIC_MAIL", tx.mail_macros)
        emit(f"ok(mt.mailfrom(conn, {lua_str(tx.mail_from)}), 'mailfrom'); say('mail{suffix}')")
        for r in tx.rcpts:
            macro("SMFIC_RCPT", rcpt_macros)
            emit(f"ok(mt.rcptto(conn, {lua_str(r)}), 'rcptto'); say('rcpt{suffix}')")
        emit(f"ok(mt.data(conn), 'data'); say('data{suffix}')")
        headers = [(name, unique_message_id() if isinstance(value, FreshMessageId) else value)
                   for name, value in tx.headers]
        message_ids.append(next((v for name, v in headers if name.lower() == "message-id"), ""))
        for name, value in headers:
            emit(f"ok(mt.header(conn, {lua_str(name)}, {lua_str(value)}), 'header'); say('header{suffix}')")
        emit(f"ok(mt.eoh(conn), 'eoh'); local eoh = reply(); print('REPLY eoh{suffix} ' .. eoh)")
        # After ACCEPT the filter is done with this message; a real MTA sends nothing more.
        emit("if eoh ~= 'a' then")
        if tx.body:
            emit(f"  ok(mt.bodystring(conn, {lua_str(tx.body)}), 'body'); say('body{suffix}')")
        emit(f"  ok(mt.eom(conn), 'eom'); say('eom{suffix}')")
        if n == tx.messages:
            for name in tx.look_for:
                emit(f"  for i = 0, 5 do local v = mt.getheader(conn, {lua_str(name)}, i);"
                     f" if v ~= nil then print('ADDED ' .. {lua_str(name)} .. ' ' .. v) end end")
            for name in tx.check_deleted:
                emit(f"  print('DELETED ' .. {lua_str(name)} .. ' ' .. tostring(mt.eom_check(conn, MT_HDRDELETE, {lua_str(name)})"
                     f" or mt.eom_check(conn, MT_HDRCHANGE, {lua_str(name)})))")
            for r in tx.rcpts:
                emit(f"  print('RCPTDEL ' .. {lua_str(r)} .. ' ' .. tostring(mt.eom_check(conn, MT_RCPTDELETE, {lua_str(r)})))")
            emit("  print('QUARANTINE ' .. tostring(mt.eom_check(conn, MT_QUARANTINE)))")
            # MT_SMTPREPLY matches only the whole reply text; the reply code is checked in
            # the milter's summary line instead (reply=550/5.7.1).
        emit("end")
    emit("mt.disconnect(conn)")
    return "\n".join(L) + "\n"


def run_transaction(spec: str, tx: Transaction, workdir: Path, timeout: float = 30.0) -> Result:
    script = workdir / f"tx-{time.monotonic_ns()}.lua"
    message_ids: list[str] = []
    script.write_text(_script(spec, tx, message_ids))
    p = subprocess.run([MILTERTEST, "-s", str(script)], capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"miltertest failed ({p.returncode}):\n{p.stdout}\n{p.stderr}\n--- script\n{script.read_text()}")
    replies: dict[str, str] = {}
    added: dict[str, list[str]] = {}
    deleted: dict[str, bool] = {}
    rcpt_deleted: dict[str, bool] = {}
    quarantined = False
    negotiated: dict[str, bool] = {}
    for line in p.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "REPLY":
            stage, _, r = rest.partition(" ")
            replies[stage] = REPLY_NAMES.get(r, r)
        elif kind == "ADDED":
            name, _, value = rest.partition(" ")
            added.setdefault(name, []).append(value)
        elif kind == "DELETED":
            name, _, v = rest.partition(" ")
            deleted[name] = v == "true"
        elif kind == "RCPTDEL":
            name, _, v = rest.partition(" ")
            rcpt_deleted[name] = v == "true"
        elif kind in ("ACTION", "STEP"):
            name, _, v = rest.partition(" ")
            negotiated[name] = v == "true"
        elif kind == "QUARANTINE":
            quarantined = rest == "true"
    return Result(replies, added, deleted, rcpt_deleted, quarantined, negotiated, p.stdout, p.stderr, message_ids)


def aamp_headers(intent: str = "task.dispatch", task_id: str = "task-1",
                 sender: str = "Alice <alice@example.test>", extra: Optional[list] = None,
                 message_id: str = FRESH_MESSAGE_ID) -> list[tuple[str, str]]:
    """An AAMP message's header fields; each message sent with them has a Message-ID of its
    own unless `message_id` names one."""
    h = [("From", sender), ("To", "agent@example.test"), ("Subject", "work for you"),
         ("Message-ID", message_id), ("X-AAMP-Version", "1.1"), ("X-AAMP-Intent", intent),
         ("X-AAMP-TaskId", task_id)]
    return h + (extra or [])

@contextlib.contextmanager
def database_removed(milter):
    """The running milter's SQLite database gone (file, -wal, -shm) while the block runs, as
    if an operator had deleted it; restored from a backup taken first when the block ends."""
    saved = Path(milter.root) / "saved.db"
    src, dst = sqlite3.connect(milter.database), sqlite3.connect(saved)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    for suffix in ("", "-wal", "-shm"):
        Path(milter.database + suffix).unlink(missing_ok=True)
    try:
        yield
    finally:
        os.replace(saved, milter.database)  # the operator restores the backup
