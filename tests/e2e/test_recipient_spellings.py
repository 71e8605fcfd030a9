"""test_recipient_spellings — recipient spellings that Postfix delivers to a protected
mailbox but hands the milter as written (a trailing root dot, a quoted local part, a
quoted-pair, RFC 5321 source routes): a dispatch from a sender without a rule must be
refused for each, as it is for the plain address. Before policy/engine.cpp normalized
recipients (normalize_recipient), every one of these was delivered unaudited (tests/corpus
397-399, 406, 407). The RCPT commands are written raw: smtplib would rewrite them.
"""

import smtplib
import unittest

import aamp_stack as s

AGENT = f"agent@{s.DOMAIN}"
STRANGER = f"stranger@{s.DOMAIN}"

SPELLINGS = [
    f"<{AGENT}>",                                   # control
    f"<{AGENT}.>",                                  # the root's trailing dot
    f'<"agent"@{s.DOMAIN}>',                        # a quoted local part
    f'<"ag\\ent"@{s.DOMAIN}>',                      # a quoted-pair inside it
    f"<@relay.example:{AGENT}>",                    # a source route
    f"<@a.example,@b.example:{AGENT}>",             # a two-hop source route
    f'<@r.example:"Agent"@{s.DOMAIN.upper()}.>',    # all at once
]


class RecipientSpellingsThroughPostfix(s.StackTestCase):
    AGENTS = [AGENT]
    USERS = [STRANGER]

    def send_raw(self, rcpt: str, message_id: str):
        """MAIL, a raw RCPT line, DATA; returns (rcpt reply, data reply)."""
        msg = s.dispatch(STRANGER, AGENT)
        msg.replace_header("Message-ID", message_id)
        client = smtplib.SMTP("127.0.0.1", self.pf.submission_port, timeout=30)
        try:
            client.ehlo("client.example.test")
            client.login(*s.login_for(STRANGER))
            client.mail(STRANGER)
            rcpt_reply = client.docmd(f"RCPT TO:{rcpt}")
            if rcpt_reply[0] not in (250, 251):
                return rcpt_reply, None
            try:
                return rcpt_reply, client.data(msg.as_bytes())
            except smtplib.SMTPDataError as e:
                return rcpt_reply, (e.smtp_code, e.smtp_error)
        finally:
            client.quit()

    def test_each_spelling_of_the_agent_is_protected(self):
        for i, rcpt in enumerate(SPELLINGS):
            with self.subTest(rcpt=rcpt):
                message_id = f"<spelling-{i}@{s.DOMAIN}>"
                rcpt_reply, data_reply = self.send_raw(rcpt, message_id)
                self.assertIn(rcpt_reply[0], (250, 251), f"Postfix refused {rcpt} at RCPT: {rcpt_reply}")
                self.assertIsNotNone(data_reply)
                self.assertEqual(data_reply[0], 550, f"{rcpt}: {data_reply}\n{self.stack.diagnostics()}")
                self.assertTrue(data_reply[1].startswith(b"5.7.1 "), data_reply)
                self.assertIn(AGENT.encode(), data_reply[1])
        self.stack.wait_settled()
        delivered = [m["Message-ID"] for m in self.pf.messages(AGENT)]
        self.assertEqual(delivered, [], "a refused dispatch reached the agent's mailbox")
        rows = self.stack.ctl.audit("--mailbox", AGENT)
        self.assertEqual(len([r for r in rows if r.get("verdict") == "deny"]), len(SPELLINGS), rows)


if __name__ == "__main__":
    unittest.main()
