"""stalwart_emulator — Stalwart 0.16.19's milter client, played in Python, so that the real
aamp-milter can be tested against the MTA the AAMP reference deployments use (Stalwart
itself cannot be installed here). Standard library only; one SMTP transaction per call,
no threads: an emulator object may be shared by the tests of one process, one at a time.

Every rule is Stalwart's own, read from stalwartlabs/stalwart at d72608f3 (paths below are
under crates/smtp/src/inbound/: M = milter/) and summed up in shared/docs/stalwart-facts.md:
- each stage call opens a new TCP connection and replays negotiation, connect, HELO, MAIL and
  every RCPT so far (M/message.rs:164-257); stage rcpt = one connection per RCPT, stage data =
  one per message; modifications are applied only at DATA (data.rs:600-636);
- what the filter's replies mean (M/client.rs, M/message.rs:524-530): ACCEPT is CONTINUE,
  SKIP is honoured only in the body loop, anything else unexpected is an error;
- how modifications are applied (apply_milter_modifications, M/message.rs:340-520).
Where the facts page and the code disagree, the code is followed (see `j` below).

The outcome is what Stalwart would queue: the SMTP replies, the recipients left, the edited
message (the filter's changes only: Stalwart's own Received/Authentication-Results lines are
added after the filters ran, data.rs:485-505), and its fate: queued, dropped (DISCARD),
unscheduled (stored with zero recipients: data.rs:740, queue/spool.rs:497) or refused.
"""

from __future__ import annotations

import itertools
import socket
import struct
from dataclasses import dataclass, field
from typing import Optional

DAEMON_NAME = "Stalwart v0.16.19"  # common/src/lib.rs:90
CHUNK = 65535                      # MILTER_CHUNK_SIZE, M/client.rs:22
STAGES = ("connect", "ehlo", "mail", "rcpt", "data")  # `auth` is accepted in config, never called

# Protocol steps (M/mod.rs), those Stalwart looks at.
SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NODATA, SMFIP_SKIP = 0x200, 0x400
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY = 0x10000, 0x40000, 0x80000

# The replies Stalwart gives for a filter's verdicts (inbound/mod.rs:90-130, data.rs).
REPLY_DISCARD = "250 2.0.0 Message queued for delivery.\r\n"
REPLY_REJECT = "503 5.5.3 Message rejected.\r\n"
REPLY_TEMPFAIL = "451 4.3.5 Unable to accept message at this time.\r\n"
REPLY_SHUTDOWN = "421 4.3.0 Server shutting down.\r\n"

# Rust's char::is_whitespace (str::trim): Python's str.strip() also strips \x1c-\x1f.
_RUST_WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


def rust_trim(s: str) -> str:
    return s.strip(_RUST_WHITESPACE)


def utf8_or_empty(b: bytes) -> str:
    """std::str::from_utf8(v).unwrap_or_default(): a name or value that is not UTF-8 is ""."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return ""


@dataclass
class MilterSettings:
    """One MtaMilter object (registry/schema/structs.rs:3680-3709), with Stalwart's defaults."""
    port: int
    hostname: str = "127.0.0.1"
    stages: tuple[str, ...] = ("data",)
    timeout_command: float = 30.0   # connect and every write
    timeout_data: float = 60.0      # every wait for the filter's reply
    tempfail_on_error: bool = True
    max_response_size: int = 52428800
    protocol_version: int = 6
    flags_action: int = 0xFF        # ADDHDRS|CHGBODY|ADDRCPT|DELRCPT|CHGHDRS|QUARANTINE|CHGFROM|ADDRCPT_PAR
    flags_protocol: int = 0x42      # NOHELO|NOEOH


@dataclass
class Transaction:
    """One SMTP session with one message, as the client drives it."""
    mail_from: str = "alice@example.test"
    rcpts: list[str] = field(default_factory=lambda: ["agent@example.test"])
    message: bytes = b"From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n"
    auth_login: Optional[str] = None    # the SASL login, when the client authenticated
    auth_emails: tuple[str, ...] = ()   # the addresses of that account, besides the login
    helo: str = "client.example.test"
    client_ip: str = "192.0.2.9"
    client_port: int = 50123
    client_ptr: Optional[str] = "client.example.test"  # iprev's first PTR; None: none found
    server_hostname: str = "mx.example.test"           # Stalwart's own hostname (the `j` macro)


@dataclass
class Exchange:
    """One milter connection: what Stalwart sent ((command, payload)) and read."""
    stage: str
    sent: list[tuple[str, bytes]] = field(default_factory=list)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    negotiated_protocol: int = 0
    error: str = ""

    def macros(self, for_command: str) -> dict[str, str]:
        """The macros sent for a command letter ('C', 'H', 'M', 'R'), in order."""
        for cmd, payload in self.sent:
            if cmd == "D" and payload[:1] == for_command.encode():
                parts = payload[1:].split(b"\0")[:-1]
                return {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts), 2)}
        return {}

    def commands(self) -> str:
        return "".join(cmd for cmd, _ in self.sent)

    def payloads(self, cmd: str) -> list[bytes]:
        return [p for c, p in self.sent if c == cmd]


@dataclass
class Outcome:
    replies: dict[str, str]         # "connect", "ehlo", "mail", "rcpt <addr>", "data" -> SMTP reply line(s)
    fate: str                       # queued | dropped | unscheduled | refused
    recipients: list[str]           # what would be queued, lowercased (Stalwart keeps the client's case), in queue order
    message: bytes                  # the message after the filter's changes
    exchanges: list[Exchange]
    modifications: list[tuple]      # as the filter sent them at DATA

    @property
    def data_reply(self) -> str:
        return self.replies.get("data", "")

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The final header block: (name, value trimmed and unfolded)."""
        return [(utf8_or_empty(n), " ".join(utf8_or_empty(v).split()))
                for n, v in parse_header_block(self.message)[0]]

    def header_values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


class MilterError(Exception):
    """A failure of the milter conversation (M/mod.rs Error): I/O, timeout, bad or unexpected frame."""


# ---------------------------------------------------------------------------------------
# The message as mail_parser splits it: raw_parsed_headers() and the body offset.

def parse_header_block(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(name, raw value) per field, the value from after the colon to its final CRLF, folds
    included; and the body (after the empty line). A line without a colon is skipped."""
    fields: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos < len(message):
        if message.startswith(b"\r\n", pos) or message.startswith(b"\n", pos):
            pos += 2 if message.startswith(b"\r\n", pos) else 1
            return fields, message[pos:]
        end = pos
        while True:  # a field ends at a line end not followed by SP or HT
            nl = message.find(b"\n", end)
            if nl < 0:
                end = len(message)
                break
            end = nl + 1
            if end >= len(message) or message[end:end + 1] not in (b" ", b"\t"):
                break
        line = message[pos:end]
        colon = line.find(b":")
        if colon > 0:
            fields.append((line[:colon], line[colon + 1:]))
        pos = end
    return fields, b""


# ---------------------------------------------------------------------------------------
# The wire: frames of a 4-byte length and a command letter (M/protocol.rs).

class MilterConnection:
    def __init__(self, settings: MilterSettings, exchange: Exchange):
        self.s = settings
        self.x = exchange
        self.options = 0
        self.buf = b""
        try:
            self.sock = socket.create_connection((settings.hostname, settings.port), timeout=settings.timeout_command)
        except OSError as e:
            exchange.error = f"connect: {e}"
            raise MilterError(exchange.error) from e
        # Not Stalwart's (tokio leaves Nagle on): without it each macro + command pair waits
        # for a delayed ACK, 40 ms a step on loopback, and the tests would only be slower.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        self.sock.close()

    def has(self, flag: int) -> bool:
        return self.options & flag == flag

    def write(self, cmd: str, payload: bytes = b"") -> None:
        self.x.sent.append((cmd, payload))
        self.sock.settimeout(self.s.timeout_command)
        try:
            self.sock.sendall(struct.pack(">I", len(payload) + 1) + cmd.encode() + payload)
        except OSError as e:
            raise MilterError(f"write {cmd}: {e}") from e

    def read(self) -> tuple[str, bytes]:
        """One frame; timeoutData bounds each wait for bytes."""
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack(">I", self.buf[:4])[0]
                if n > self.s.max_response_size:
                    raise MilterError(f"frame too large ({n})")
                if n == 0:
                    raise MilterError("invalid frame (empty)")
                if len(self.buf) >= 4 + n:
                    frame, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                    self.x.received.append((chr(frame[0]), frame[1:]))
                    return chr(frame[0]), frame[1:]
            self.sock.settimeout(self.s.timeout_data)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as e:
                raise MilterError("timeout") from e
            except OSError as e:
                raise MilterError(f"read: {e}") from e
            if not chunk:
                raise MilterError("disconnected")
            self.buf += chunk


def _nul_strings(data: bytes, count: int) -> list[str]:
    """read_nul_terminated, `count` times: a missing NUL or bytes that are not UTF-8 make the
    frame invalid (M/protocol.rs)."""
    out = []
    for _ in range(count):
        nul = data.find(b"\0")
        if nul < 0:
            raise MilterError("invalid frame (no NUL)")
        try:
            out.append(data[:nul].decode("utf-8"))
        except UnicodeDecodeError as e:
            raise MilterError("invalid frame (not UTF-8)") from e
        data = data[nul + 1:]
    return out


# A parsed reply: ("action", name, text) | ("mod", kind, fields...) | ("progress",) | ("skip",) | ("other", cmd)
def parse_response(cmd: str, data: bytes) -> tuple:
    actions = {"a": "accept", "c": "continue", "d": "discard", "r": "reject", "t": "tempfail",
               "4": "shutdown", "f": "connfail"}
    if cmd in actions:
        return ("action", actions[cmd], "")
    if cmd == "y":
        if len(data) < 4:
            raise MilterError("invalid frame (reply code)")
        code = data[:3].decode("latin-1")
        return ("action", "replycode", code + " " + _nul_strings(data[4:], 1)[0])
    if cmd == "p":
        return ("progress",)
    if cmd == "s":
        return ("skip",)
    if cmd == "h":
        return ("mod", "addheader", *_nul_strings(data, 2))
    if cmd in ("m", "i"):
        if len(data) < 4:
            raise MilterError("invalid frame (index)")
        index = struct.unpack(">I", data[:4])[0]
        return ("mod", "chgheader" if cmd == "m" else "insheader", index, *_nul_strings(data[4:], 2))
    if cmd == "-":
        return ("mod", "delrcpt", _nul_strings(data, 1)[0])
    if cmd in ("+", "2"):
        args = _nul_strings(data, 2 if cmd == "2" else 1)
        return ("mod", "addrcpt", args[0], args[1] if len(args) > 1 else "")
    if cmd == "e":
        return ("mod", "chgfrom", *_nul_strings(data, 2))
    if cmd == "q":
        return ("mod", "quarantine", _nul_strings(data, 1)[0])
    if cmd == "b":
        return ("mod", "replbody", data)
    if cmd in ("O", "l"):
        return ("other", cmd)
    raise MilterError(f"invalid frame ({cmd!r})")


class _Verdict(Exception):
    """The filter answered something other than ACCEPT/CONTINUE (Rejection::Action)."""

    def __init__(self, name: str, text: str):
        super().__init__(name)
        self.name, self.text = name, text


def _action(conn: MilterConnection) -> tuple[str, str]:
    """read().into_action(): a reply that is not an action is an error."""
    r = parse_response(*conn.read())
    if r[0] != "action":
        raise MilterError(f"unexpected response {r[0]}")
    return r[1], r[2]


def _go_on(verdict: tuple[str, str]) -> None:
    """assert_continue(): ACCEPT is CONTINUE (M/message.rs:524-530)."""
    if verdict[0] not in ("accept", "continue"):
        raise _Verdict(*verdict)


def _macros(code: str, pairs: list[tuple[str, str]]) -> bytes:
    return code.encode() + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs)


# ---------------------------------------------------------------------------------------
# One stage call: MilterClient::connect, then Session::run (M/message.rs:191-300).

def run_stage(settings: MilterSettings, tx: Transaction, x: Exchange, rcpts: list[str],
              message: Optional[bytes]) -> list[tuple]:
    """One connection, recorded in `x`. Returns the modifications; raises _Verdict or MilterError."""
    stage = x.stage
    conn = MilterConnection(settings, x)
    try:
        conn.write("O", struct.pack(">III", settings.protocol_version, settings.flags_action, settings.flags_protocol))
        cmd, data = conn.read()
        if cmd != "O" or len(data) < 12:
            raise MilterError(f"unexpected response to negotiation ({cmd!r})")
        # Whatever step flags the filter returns are used, unchecked (M/client.rs:112).
        conn.options = x.negotiated_protocol = struct.unpack(">III", data[:12])[2]

        ptr = tx.client_ptr
        helo_now = "" if stage == "connect" else tx.helo
        if not conn.has(SMFIP_NOCONNECT):
            # The hostname, `j`, is set only after the connect-stage milters ran (inbound/spawn.rs:100-124).
            j = "" if stage == "connect" else tx.server_hostname
            conn.write("D", _macros("C", [("{daemon_name}", DAEMON_NAME), ("j", j), ("{client_addr}", tx.client_ip),
                                          ("{client_port}", str(tx.client_port)), ("{client_ptr}", ptr or "unknown")]))
            family = b"6" if ":" in tx.client_ip else b"4"
            conn.write("C", (ptr or helo_now).encode() + b"\0" + family + struct.pack(">H", tx.client_port)
                       + tx.client_ip.encode() + b"\0")
            if not conn.has(SMFIP_NR_CONN):
                _go_on(_action(conn))

        # At stage connect the client has said nothing yet: HELO is sent empty, and no MAIL.
        if not conn.has(SMFIP_NOHELO):
            conn.write("D", _macros("H", [("{cipher}", ""), ("{tls_version}", "")]))  # plain TCP: both ""
            conn.write("H", helo_now.encode() + b"\0")
            if not conn.has(SMFIP_NR_HELO):
                _go_on(_action(conn))
        if stage in ("connect", "ehlo"):
            _quit(conn)
            return []

        sender = tx.mail_from.lower()
        if not conn.has(SMFIP_NOMAIL):
            pairs = [("{mail_addr}", sender)]
            if tx.auth_login is not None:  # absent, not empty, without authentication
                pairs.append(("{auth_authen}", tx.auth_login))
            conn.write("D", _macros("M", pairs))
            conn.write("M", f"<{sender}>".encode() + b"\0")
            if not conn.has(SMFIP_NR_MAIL):
                _go_on(_action(conn))
        for rcpt in rcpts:
            if not conn.has(SMFIP_NORCPT):
                conn.write("D", _macros("R", [("{rcpt_addr}", rcpt.lower())]))
                conn.write("R", f"<{rcpt.lower()}>".encode() + b"\0")
                if not conn.has(SMFIP_NR_RCPT):
                    _go_on(_action(conn))
        if message is None:
            _quit(conn)
            return []

        if settings.protocol_version == 6 and not conn.has(SMFIP_NODATA):
            conn.write("T")
            if not conn.has(SMFIP_NR_DATA):
                _go_on(_action(conn))
        _go_on(_headers(conn, message))
        verdict, modifications = _body(conn, message)
        _go_on(verdict)
        _quit(conn)
        return modifications
    except _Verdict as v:
        x.error = f"verdict {v.name}"
        raise
    except MilterError as e:
        x.error = str(e)
        raise
    finally:
        conn.close()


def _quit(conn: MilterConnection) -> None:
    try:
        conn.write("Q")
    except MilterError:
        pass  # `let _ = client.quit().await`


def _headers(conn: MilterConnection, message: bytes) -> tuple[str, str]:
    if conn.has(SMFIP_NOHDRS):
        return ("accept", "")
    for name, value in parse_header_block(message)[0]:
        # trim()med; folds inside kept; not UTF-8 -> "" (M/message.rs:265-270, M/client.rs:229-230)
        n, v = rust_trim(utf8_or_empty(name)), rust_trim(utf8_or_empty(value))
        conn.write("L", n.encode() + b"\0" + v.encode() + b"\0")
        if not conn.has(SMFIP_NR_HDR):
            r = parse_response(*conn.read())
            if r[0] != "action":
                raise MilterError(f"unexpected response {r[0]} to a header")
            if r[1] not in ("accept", "continue"):
                return r[1], r[2]
    # End of headers is sent whatever SMFIP_NOEOH says: Stalwart never looks at it.
    conn.write("N")
    if not conn.has(SMFIP_NR_EOH):
        return _action(conn)
    return ("accept", "")


def _body(conn: MilterConnection, message: bytes) -> tuple[tuple[str, str], list[tuple]]:
    if conn.has(SMFIP_NOBODY):
        return ("accept", ""), []
    for i in range(0, max(len(message), 1), CHUNK):  # the whole raw message, headers included
        chunk = message[i:i + CHUNK]
        if not chunk:
            break
        conn.write("B", chunk)
        if not conn.has(SMFIP_NR_BODY):
            r = parse_response(*conn.read())
            if r[0] == "skip":
                break  # the one place SKIP is honoured (M/client.rs:270)
            if r[0] == "progress" or (r[0] == "action" and r[1] in ("accept", "continue")):
                continue
            if r[0] == "action":
                return (r[1], r[2]), []
            raise MilterError(f"unexpected response {r[0]} to a body chunk")
    conn.write("E")
    modifications: list[tuple] = []
    while True:
        r = parse_response(*conn.read())
        if r[0] == "action":
            return (r[1], r[2]), modifications
        if r[0] == "mod":
            modifications.append(r[1:])
        elif r[0] != "progress":
            raise MilterError(f"unexpected response {r[0]} at end of message")


def verdict_reply(name: str, text: str) -> tuple[str, bool]:
    """(the SMTP reply, whether the message is dropped) for a verdict (M/message.rs:99-114)."""
    if name == "discard":
        return REPLY_DISCARD, True
    if name == "reject":
        return REPLY_REJECT, False
    if name == "tempfail":
        return REPLY_TEMPFAIL, False
    if name == "replycode":  # verbatim: a '%%' arrives doubled
        code, _, rest = text.partition(" ")
        return code + " " + rest + ("" if rest.endswith("\n") else "\r\n"), False
    if name == "shutdown":
        return REPLY_SHUTDOWN, False
    return "", False  # connection failure: the client is disconnected


# ---------------------------------------------------------------------------------------
# apply_milter_modifications (M/message.rs:340-520), on raw bytes.

def strip_brackets(addr: str) -> str:
    addr = addr.strip(_RUST_WHITESPACE)
    if addr.startswith("<"):
        inner = addr[1:]
        return (inner.rsplit(">", 1)[0] if ">" in inner else inner).strip(_RUST_WHITESPACE)
    return addr


def apply_modifications(message: bytes, rcpts: list[str], modifications: list[tuple]) -> tuple[bytes, list[str]]:
    """The message and recipient list (lowercased) after the filter's changes."""
    rcpts = list(rcpts)
    fields, body = parse_header_block(message)
    raw_headers = message[:len(message) - len(body)]
    changes: list[tuple[int, str, str, bool]] = []  # (index, name, value, is_change)
    rewrite = False
    new_body = b""
    for m in modifications:
        kind = m[0]
        if kind == "delrcpt":
            # Exact match against the lowercased address: the filter's text is not lowercased.
            target = strip_brackets(m[1])
            rcpts = [r for r in rcpts if r != target]
        elif kind == "addrcpt":
            r = strip_brackets(m[1])
            if "@" in r and r.lower() not in rcpts:
                rcpts.append(r.lower())
        elif kind == "replbody":
            new_body += m[1]
        elif kind == "addheader":
            changes.append((0, m[1], m[2], False))
        elif kind == "insheader":
            changes.append((m[1], m[2], m[3], False))
            rewrite = True
        elif kind == "chgheader":
            index, name, value = m[1], m[2], m[3]
            if value == "" or any(n.lower() == name.encode().lower() for n, _ in fields):
                changes.append((index, name, value, True))
                rewrite = True
            else:  # a change of a field that does not exist adds it at the top
                changes.append((0, name, value, False))
        elif kind == "quarantine":
            changes.append((0, "X-Quarantine", m[1], False))
        # chgfrom: the envelope sender, not reported here
    body_out = new_body or body
    if not changes:
        return (raw_headers + new_body if new_body else message), rcpts
    if not rewrite:
        # Each addition at the top, in the filter's order, then the block as received.
        top = b"".join(n.encode() + b": " + v.encode() + (b"" if v.endswith("\n") else b"\r\n")
                       for _, n, v, _ in changes)
        return top + raw_headers + body_out, rcpts
    headers = [[n, v] for n, v in fields]
    for index, name, value, is_change in changes:
        lname = name.encode().lower()
        if is_change:
            count = 0
            for pos, h in enumerate(headers):
                if h[0].lower() == lname:
                    count += 1
                    if count == index:  # counts from 1 per name; "" deletes
                        if value:
                            h[1] = value.encode()
                        else:
                            del headers[pos]
                        break
        else:
            # Index 0 is the top; index N is before the Nth field of the same name (or the last
            # one there is), and the top when there is none: not libmilter's whole-block index.
            pos = 0
            if index > 0:
                count = 0
                for p, h in enumerate(headers):
                    if h[0].lower() == lname:
                        pos = p
                        count += 1
                        if count == index:
                            break
            headers.insert(pos, [name.encode(), value.encode()])
    out = b""
    for n, v in headers:
        out += n + (b":" if v[:1] and v[:1] in b" \t\n\x0c\r" else b": ") + v
        if not v.endswith(b"\n"):
            out += b"\r\n"
    return out + b"\r\n" + body_out, rcpts


# ---------------------------------------------------------------------------------------
# The SMTP session: the stage calls at their places, and what is queued.

_queue_ids = itertools.count(0x1000)


def queue_order(rcpts: list[str]) -> list[str]:
    """As build_message sorts them: by domain, then address (SessionAddress's Ord, core/mod.rs:194)."""
    return sorted(rcpts, key=lambda r: (r.rpartition("@")[2], r))


REPLY_NOT_YOUR_ADDRESS = "501 5.5.4 You are not allowed to send from this address.\r\n"


class Stalwart:
    """One Stalwart server with one milter. `must_match_sender` is session.auth.mustMatchSender
    (default true): an authenticated client may use only its login or the account's addresses
    as MAIL FROM (inbound/mail.rs:232-270; so `MAIL FROM:<>` is refused when authenticated)."""

    def __init__(self, settings: MilterSettings, must_match_sender: bool = True):
        unknown = set(settings.stages) - set(STAGES) - {"auth"}  # `auth`: accepted, never called
        if unknown:
            raise ValueError(f"unknown milter stages {sorted(unknown)}")
        self.settings = settings
        self.must_match_sender = must_match_sender

    def _call(self, tx: Transaction, stage: str, rcpts: list[str], message: Optional[bytes],
              exchanges: list[Exchange]) -> tuple[Optional[tuple[str, bool]], list[tuple]]:
        """run_milters for one stage: (refusal reply and dropped, or None) and the modifications."""
        if stage not in self.settings.stages:
            return None, []
        x = Exchange(stage)
        exchanges.append(x)
        try:
            return None, run_stage(self.settings, tx, x, rcpts, message)
        except _Verdict as v:
            return verdict_reply(v.name, v.text), []
        except MilterError:
            if self.settings.tempfail_on_error:
                return (REPLY_TEMPFAIL, False), []
            return None, []  # the filter is skipped

    def send(self, tx: Transaction) -> Outcome:
        exchanges: list[Exchange] = []
        replies: dict[str, str] = {}

        def refused(at: str, reply: str) -> Outcome:
            replies[at] = reply
            return Outcome(replies, "refused", [], b"", exchanges, [])

        for stage, at in (("connect", "connect"), ("ehlo", "ehlo"), ("mail", "mail")):
            refusal, _ = self._call(tx, stage, [], None, exchanges)
            if refusal:
                return refused(at, refusal[0])
            replies[at] = "250"
        # Checked after the mail-stage milters ran, against the lowercased address.
        sender = tx.mail_from.lower()
        if self.must_match_sender and tx.auth_login is not None \
                and sender != tx.auth_login and sender not in tx.auth_emails:
            return refused("mail", REPLY_NOT_YOUR_ADDRESS)
        accepted: list[str] = []
        for rcpt in tx.rcpts:
            if rcpt.lower() in accepted:  # a duplicate (compared lowercased) is answered, not added
                replies[f"rcpt {rcpt}"] = "250 2.1.5 OK\r\n"
                continue
            accepted.append(rcpt.lower())  # pushed first, popped when refused (rcpt.rs:143)
            refusal, _ = self._call(tx, "rcpt", accepted, None, exchanges)
            if refusal:
                accepted.pop()
                replies[f"rcpt {rcpt}"] = refusal[0]
            else:
                replies[f"rcpt {rcpt}"] = "250 2.1.5 OK\r\n"
        if not accepted:
            return refused("data", "503 5.5.1 RCPT is required first.\r\n")

        refusal, mods = self._call(tx, "data", accepted, tx.message, exchanges)
        if refusal:
            reply, dropped = refusal
            replies["data"] = reply
            return Outcome(replies, "dropped" if dropped else "refused", [], b"", exchanges, [])
        message, rcpts = apply_modifications(tx.message, accepted, mods) if mods else (tx.message, accepted)
        replies["data"] = f"250 2.0.0 Message queued with id {next(_queue_ids):x}.\r\n"
        fate = "queued" if rcpts else "unscheduled"  # zero recipients: stored, never scheduled
        return Outcome(replies, fate, queue_order(rcpts), message, exchanges, mods)


def build_message(headers: list[tuple[str, str]], body: str = "hello\r\n") -> bytes:
    """A raw message: "Name: value" lines (str values are UTF-8; bytes kept as given)."""
    out = b""
    for name, value in headers:
        v = value if isinstance(value, bytes) else value.encode()
        out += name.encode() + b": " + v + b"\r\n"
    return out + b"\r\n" + body.encode()

