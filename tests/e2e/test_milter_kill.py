"""test_milter_kill — issue 7 "milter killed at every stage of a message": aamp-milter gets
SIGKILL while Postfix waits for its answer at connect, HELO, MAIL, RCPT, DATA, a header,
end of headers, the body and end of message. Postfix (milter_default_action = tempfail)
must answer the client 4xx and keep nothing; after the milter is restarted the client's
retry of the same message is accepted and delivered exactly once.

The kill is timed by milter_relay.MilterRelay, a relay between Postfix and the milter that
reads the milter protocol and kills the milter when Postfix sends the stage's command: no
test hook inside aamp-milter. One Postfix and one milter serve the whole class.
"""

import os
import unittest

import aamp_stack as s
import postfix_harness as h
from milter_relay import MilterRelay

AGENT = f"agent-kill@{s.DOMAIN}"
SENDER = f"sender-kill@{s.DOMAIN}"


class MilterKilledAtEveryStage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for name in ("AAMP_MILTER", "AAMPCTL"):
            if not os.environ.get(name):
                raise unittest.SkipTest(f"{name}: no such target in this build")
        cls.stack = s.AampStack(agents=[AGENT], users=[SENDER])
        cls.addClassCleanup(cls.stack.close)
        # Postfix talks to the relay; the relay to the milter's own port.
        cls.relay = MilterRelay(cls.stack.milter_port, kill=lambda: cls.stack.milter.kill())
        cls.addClassCleanup(cls.relay.close)
        cls.stack.postfix.milter = f"inet:127.0.0.1:{cls.relay.port}"
        cls.stack.start()
        cls.stack.ctl.allow_sender(AGENT, SENDER)

    def setUp(self):
        self.relay.disarm()
        if not self.stack.milter.running():
            self.stack.milter.start()

    @property
    def pf(self) -> h.PostfixInstance:
        return self.stack.postfix

    def delivered(self, message_id: str) -> int:
        return sum(1 for m in self.pf.messages(AGENT) if m["Message-ID"] == message_id)

    def send(self, msg) -> h.SmtpResult:
        return self.pf.send(SENDER, AGENT, msg, login=s.login_for(SENDER))

    def kill_at(self, stage: str) -> None:
        msg = s.dispatch(SENDER, AGENT, "project=alpha", subject=f"killed at {stage}")
        # The milter answers a first message normally on this very instance: the relay
        # passes everything until it is armed.
        self.relay.arm(stage)
        result = self.send(msg)
        if not self.relay.fired.wait(5):
            self.fail(f"Postfix never sent the {stage} command; seen: {self.relay.commands_seen[-20:]}\n"
                      f"{self.stack.diagnostics()}")
        self.assertEqual(self.relay.fired_stage, stage)
        self.assertFalse(self.stack.milter.running(), "the milter was killed")
        if not result.transient:
            self.fail(f"killed at {stage}: expected a 4xx answer, got {result}\n{self.stack.diagnostics()}")
        self.pf.wait_kept_nothing(f"killed at {stage} (the client still has the mail)")
        self.assertEqual(self.delivered(msg["Message-ID"]), 0)

        # While it is down every attempt is refused with 4xx, never accepted unchecked.
        down = self.send(msg)
        self.assertTrue(down.transient, f"milter down: expected 4xx, got {down}")

        self.stack.milter.start()
        retry = self.send(msg)
        if not retry.accepted:
            self.fail(f"the retry after the restart: expected 250, got {retry}\n{self.stack.diagnostics()}")
        h.wait_until(lambda: self.delivered(msg["Message-ID"]) >= 1, 30,
                     f"the retried message (killed at {stage}) in the agent's Maildir",
                     detail=self.stack.diagnostics)
        self.pf.wait_queue_empty(20)
        self.assertEqual(self.delivered(msg["Message-ID"]), 1, "delivered exactly once")
        got = next(m for m in self.pf.messages(AGENT) if m["Message-ID"] == msg["Message-ID"])
        self.assertEqual(len([v for v in got.get_all("Authentication-Results", [])
                              if str(v).strip().lower().startswith(s.AUTHSERV_ID)]), 1,
                         "checked by the restarted milter: our verdict header is on it")

    def test_killed_at_connect(self):
        self.kill_at("connect")

    def test_killed_at_helo(self):
        self.kill_at("helo")

    def test_killed_at_mail(self):
        self.kill_at("mail")

    def test_killed_at_rcpt(self):
        self.kill_at("rcpt")

    def test_killed_at_data(self):
        self.kill_at("data")

    def test_killed_at_header(self):
        self.kill_at("header")

    def test_killed_at_end_of_headers(self):
        self.kill_at("eoh")

    def test_killed_at_body(self):
        self.kill_at("body")

    def test_killed_at_end_of_message(self):
        self.kill_at("eom")


if __name__ == "__main__":
    unittest.main()
