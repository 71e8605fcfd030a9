"""test_reply_sender_match — the SMTP reply transport against a submission server that
enforces Stalwart's default `mustMatchSender` (submission_server.py): a pair.respond goes
through the real Postfix and aamp-milter, and the reply worker submits it with AUTH. With the
default `ReplyEnvelopeSender null` the server refuses `MAIL FROM:<>` with 501 5.5.4: the
reply stays in the outbox, unsent and not abandoned, with that error, and the milter warned
at start. Restarted with `ReplyEnvelopeSender mailbox`, the same reply goes out from the agent
mailbox, which the reply login owns, and the warning is gone.
"""

import email
import email.policy
import shutil
import tempfile
import unittest
from pathlib import Path

import aamp_stack as s
import postfix_harness as h
from submission_server import Account, SubmissionServer

AGENT = f"agent@{s.DOMAIN}"
REQUESTER = f"requester@{s.DOMAIN}"
LOGIN = "aamp-replies"  # a Stalwart account that holds the agent's address
PASSWORD = "reply secret"
WARNING = "ReplyTransport logs in (user=) but ReplyEnvelopeSender is null"


class ReplySenderMustMatchLogin(s.StackTestCase):
    AGENTS = [AGENT]
    USERS = [REQUESTER]

    @classmethod
    def setUpClass(cls):
        cls.server = SubmissionServer({LOGIN: Account(PASSWORD, emails=(AGENT,))})
        cls.addClassCleanup(cls.server.close)
        secret_dir = Path(tempfile.mkdtemp(prefix="aamp-e2e-secret-"))
        cls.addClassCleanup(shutil.rmtree, secret_dir, True)
        secret = secret_dir / "smtp.secret"
        secret.write_text(PASSWORD + "\n")
        secret.chmod(0o600)
        cls.transport = [f"ReplyTransport smtp://127.0.0.1:{cls.server.port} user={LOGIN} password-file={secret}",
                         "ReplyMaxAttempts 1000"]  # refused for as long as the test needs
        cls.MILTER_CONFIG = cls.transport
        super().setUpClass()

    def outbox_row(self, task_id):
        rows = [r for r in self.stack.outbox() if r["task_id"] == task_id]
        return rows[0] if rows else None

    def test_null_sender_is_refused_and_kept_then_mailbox_delivers(self):
        code = self.stack.ctl.issue_code(AGENT)
        request = s.pair_request(REQUESTER, AGENT, code)
        task_id = request["X-AAMP-TaskId"]
        self.assertAccepted(self.submit(REQUESTER, AGENT, request), "pair.request")

        # Refused: MAIL FROM:<> after AUTH, twice (so it is retried, not dropped).
        def refused_twice():
            row = self.outbox_row(task_id)
            return row if row and row["attempts"] >= 2 else None
        row = h.wait_until(refused_twice, 30.0, "two refused attempts of the reply", detail=self.stack.diagnostics)
        self.assertIsNone(row["sent_at"], row)
        self.assertIsNone(row["abandoned_at"], row)
        self.assertIn("501", row["last_error"], row)
        attempts = self.server.attempts()
        self.assertTrue(attempts, "the worker reached the server")
        self.assertEqual({(a.login, a.mail_from, a.code) for a in attempts}, {(LOGIN, "", 501)}, attempts)
        self.assertEqual(self.server.messages(), [])
        self.assertEqual(self.stack.milter.log_text().count(WARNING), 1, self.stack.milter.log_tail())

        # The switch: the same reply, from the agent mailbox the login owns.
        self.stack.restart_milter(self.transport + ["ReplyEnvelopeSender mailbox"])
        got = h.wait_until(self.server.messages, 30.0, "the reply at the submission server",
                           detail=self.stack.diagnostics)
        self.assertEqual(len(got), 1, got)
        self.assertEqual((got[0].login, got[0].mail_from, got[0].rcpts), (LOGIN, AGENT, [REQUESTER]))
        reply = email.message_from_bytes(got[0].data, policy=email.policy.default)
        self.assertEqual(reply["X-AAMP-Intent"], "pair.respond")
        self.assertEqual(reply["X-AAMP-TaskId"], task_id)
        self.assertEqual(reply["X-AAMP-Status"], "completed")
        self.assertEqual(self.server.attempts()[-1].code, 250)
        row = h.wait_until(lambda: (r := self.outbox_row(task_id)) and r["sent_at"] is not None and r,
                           20.0, "the outbox to mark the reply sent", detail=self.stack.diagnostics)
        self.assertIsNone(row["abandoned_at"], row)
        self.assertEqual(self.stack.milter.log_text().count(WARNING), 1, "no warning with mailbox")


if __name__ == "__main__":
    unittest.main()
