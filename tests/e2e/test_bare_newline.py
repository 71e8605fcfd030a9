"""test_bare_newline — SMTP smuggling through a bare-LF end of data. A client ends a first
message with <LF>.<LF> and follows it with MAIL, RCPT and DATA of a second message carrying
AAMP headers. With smtpd_forbid_bare_newline = yes (Postfix 3.7.11: "normalize"; exclusions
empty, as deploy/postfix-main.cf.snippet says) only <CR><LF>.<CR><LF> ends DATA: Postfix
answers once, the smuggled lines stay in the first message's body, and no second message
reaches the agent or the milter's audit (docs/operations.md, "Bare newlines").
The dialogue is written on a raw socket: smtplib would turn every bare LF into <CR><LF>.
"""

import socket
import unittest

import aamp_stack as s

AGENT = f"agent@{s.DOMAIN}"
USER = f"user@{s.DOMAIN}"
STRANGER = f"stranger@{s.DOMAIN}"
FIRST_ID = f"<bare-lf-first@{s.DOMAIN}>"
SMUGGLED_ID = f"<bare-lf-smuggled@{s.DOMAIN}>"


def crlf(text: bytes) -> bytes:
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class RawSmtp:
    """One SMTP connection spoken byte by byte; replies are read as whole (multi-line)
    replies: (code, [text of each line])."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(f"connection closed; unread: {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self) -> tuple[int, list[str]]:
        lines = []
        while True:
            line = self._line().decode()
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def replies_until_close(self) -> list[tuple[int, list[str]]]:
        out = []
        while True:
            try:
                out.append(self.reply())
            except EOFError:
                return out

    def command(self, line: str) -> tuple[int, list[str]]:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()


class BareNewlineSmugglingThroughPostfix(s.StackTestCase):
    AGENTS = [AGENT]
    USERS = [USER, STRANGER]

    def test_a_bare_lf_dot_does_not_end_data(self):
        first = crlf(s.h.make_message(USER, USER, "first", "First message.\n",
                                      message_id=FIRST_ID).as_bytes())
        smuggled_msg = s.dispatch(STRANGER, AGENT)
        smuggled_msg.replace_header("Message-ID", SMUGGLED_ID)
        smuggled = (f"MAIL FROM:<{STRANGER}>\r\nRCPT TO:<{AGENT}>\r\nDATA\r\n".encode()
                    + crlf(smuggled_msg.as_bytes()))
        payload = first + b"\n.\n" + smuggled + b"\r\n.\r\n"

        smtp = RawSmtp(self.pf.smtp_port)
        try:
            self.assertEqual(smtp.reply()[0], 220)
            self.assertEqual(smtp.command("EHLO client.example.test")[0], 250)
            self.assertEqual(smtp.command(f"MAIL FROM:<{USER}>")[0], 250)
            self.assertEqual(smtp.command(f"RCPT TO:<{USER}>")[0], 250)
            self.assertEqual(smtp.command("DATA")[0], 354)
            smtp.sock.sendall(payload + b"QUIT\r\n")
            replies = smtp.replies_until_close()
        finally:
            smtp.close()

        # One answer for the one message Postfix saw, then QUIT's: the smuggled MAIL, RCPT
        # and DATA were never read as commands (they would have answered 250, 250, 354).
        codes = [code for code, _ in replies]
        self.assertEqual(codes, [250, 221], f"{replies}\n{self.stack.diagnostics()}")
        self.assertTrue(replies[0][1][0].startswith("2.0.0 Ok: queued as "), replies)

        self.stack.wait_settled()
        self.assertEqual(self.pf.messages(AGENT), [], "the smuggled message reached the agent")
        delivered = self.pf.messages(USER)
        self.assertEqual([m["Message-ID"] for m in delivered], [FIRST_ID])
        # The smuggled transaction is body text of the first message, its lines normalized.
        body = delivered[0].get_payload(decode=True)
        self.assertIn(f"MAIL FROM:<{STRANGER}>\r\nRCPT TO:<{AGENT}>\r\nDATA\r\n".encode(),
                      crlf(body))
        self.assertIn(b"X-AAMP-Intent: task.dispatch", body)
        # The milter judged one message, the first (no AAMP headers): nothing for the agent.
        self.assertEqual(self.stack.ctl.audit("--mailbox", AGENT), [])


if __name__ == "__main__":
    unittest.main()
