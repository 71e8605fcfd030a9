"""submission_server — a small SMTP submission server on 127.0.0.1 that enforces Stalwart's
default `mustMatchSender` (/work/shared/docs/stalwart-facts.md, "submission"; Stalwart's
crates/smtp/src/inbound/mail.rs): after AUTH, MAIL FROM must be the login itself, one of the
account's addresses, or in a domain the account holds as "@domain"; anything else, the null
sender `<>` included, gets "501 5.5.4 You are not allowed to send from this address.".
MAIL before AUTH gets 530 5.7.0. Accepted messages are kept in memory.
Differences from Stalwart, on purpose: no STARTTLS (AUTH PLAIN and LOGIN in clear, loopback
only), every recipient accepted, nothing delivered onwards.
Standard library only. One thread per connection; the recorded data is guarded by a lock;
every socket has a timeout. close() stops the listener and joins its thread.
"""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Optional

TIMEOUT = 30.0
MAX_LINE = 4096
MAX_MESSAGE = 10 * 1024 * 1024


@dataclass
class Account:
    password: str
    emails: tuple[str, ...] = ()  # addresses, or "@domain" for a whole domain


@dataclass
class Received:
    login: str
    mail_from: str
    rcpts: list[str]
    data: bytes


@dataclass
class Attempt:
    """One MAIL command: who was logged in, the address, and the reply code."""
    login: str
    mail_from: str
    code: int


@dataclass
class _Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[Attempt] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)


def _address(arg: str) -> Optional[str]:
    """"FROM:<a@b> SIZE=1" -> "a@b"; None when there are no angle brackets."""
    start, end = arg.find("<"), arg.find(">")
    if start < 0 or end < start:
        return None
    return arg[start + 1:end]


class _Session(socketserver.StreamRequestHandler):
    timeout = TIMEOUT
    server: "_Server"

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")

    def line(self) -> Optional[str]:
        raw = self.rfile.readline(MAX_LINE)
        return raw.rstrip(b"\r\n").decode(errors="replace") if raw else None

    def handle(self) -> None:
        self.login: Optional[str] = None
        self.mail_from: Optional[str] = None
        self.rcpts: list[str] = []
        self.reply("220 submission.example.test ESMTP (mustMatchSender)")
        while (cmd := self.line()) is not None:
            verb, _, arg = cmd.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250-submission.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME")
            elif verb == "AUTH":
                self.auth(arg)
            elif verb == "MAIL":
                self.mail(arg)
            elif verb == "RCPT":
                if self.mail_from is None:
                    self.reply("503 5.5.1 MAIL first")
                else:
                    self.rcpts.append(_address(arg) or "")
                    self.reply("250 2.1.5 OK")
            elif verb == "DATA":
                self.data()
            elif verb == "RSET":
                self.mail_from, self.rcpts = None, []
                self.reply("250 2.0.0 OK")
            elif verb == "NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.1 command not implemented")

    def auth(self, arg: str) -> None:
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if mech == "PLAIN":
            if not initial:
                self.reply("334 ")
                initial = self.line() or ""
            try:
                _, user, password = base64.b64decode(initial).decode().split("\0")
            except ValueError:
                self.reply("501 5.5.2 bad PLAIN response")
                return
        elif mech == "LOGIN":
            try:
                if initial:
                    user = base64.b64decode(initial).decode()
                else:
                    self.reply("334 VXNlcm5hbWU6")
                    user = base64.b64decode(self.line() or "").decode()
                self.reply("334 UGFzc3dvcmQ6")
                password = base64.b64decode(self.line() or "").decode()
            except ValueError:
                self.reply("501 5.5.2 bad LOGIN response")
                return
        else:
            self.reply("504 5.5.4 mechanism not supported")
            return
        account = self.server.accounts.get(user)
        if account is None or account.password != password:
            self.reply("535 5.7.8 Authentication credentials invalid.")
            return
        self.login = user
        self.reply("235 2.7.0 Authentication succeeded.")

    def may_send_from(self, address: str) -> bool:
        # Stalwart, inbound/mail.rs: authenticated_as == address, or an address of the
        # account, or "@domain" that the address ends with.
        assert self.login is not None
        address = address.lower()
        emails = [e.lower() for e in self.server.accounts[self.login].emails]
        return self.login.lower() == address or any(
            e == address or (e.startswith("@") and address.endswith(e)) for e in emails)

    def mail(self, arg: str) -> None:
        address = _address(arg)
        if address is None:
            self.reply("501 5.5.2 syntax: MAIL FROM:<address>")
            return
        if self.login is None:
            code, text = 530, "530 5.7.0 Authentication required."
        elif not self.may_send_from(address):
            code, text = 501, "501 5.5.4 You are not allowed to send from this address."
        else:
            code, text = 250, "250 2.1.0 OK"
            self.mail_from, self.rcpts = address, []
        with self.server.log.lock:
            self.server.log.attempts.append(Attempt(self.login or "", address, code))
        self.reply(text)

    def data(self) -> None:
        if self.mail_from is None or not self.rcpts:
            self.reply("503 5.5.1 MAIL and RCPT first")
            return
        self.reply("354 end with <CRLF>.<CRLF>")
        chunks, size = [], 0
        while True:
            raw = self.rfile.readline(MAX_LINE + 2)
            if not raw:
                return
            if raw in (b".\r\n", b".\n"):
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            size += len(raw)
            if size > MAX_MESSAGE:
                self.reply("552 5.3.4 message too big")
                return
            chunks.append(raw)
        with self.server.log.lock:
            self.server.log.messages.append(Received(self.login or "", self.mail_from, list(self.rcpts), b"".join(chunks)))
        self.mail_from, self.rcpts = None, []
        self.reply("250 2.0.0 queued")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, accounts: dict[str, Account]) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.accounts = accounts
        self.log = _Log()


class SubmissionServer:
    """Listens on 127.0.0.1:`port` until close()."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._server = _Server(accounts)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="submission-server", daemon=True)
        self._thread.start()

    def attempts(self) -> list[Attempt]:
        with self._server.log.lock:
            return list(self._server.log.attempts)

    def messages(self) -> list[Received]:
        with self._server.log.lock:
            return list(self._server.log.messages)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10.0)
