"""test_outage — issue 5 scenario 7 through a real Postfix: aamp-milter killed (SIGKILL)
between messages and in the middle of one gets 4xx from Postfix (milter_default_action =
tempfail) and loses nothing; after a restart the same mail is accepted; a pair.respond
still pending in the outbox at the kill is delivered exactly once after the restart.
The tests kill and restart the one milter of the class; each leaves it running.
"""

import smtplib
import unittest

import aamp_stack as s
import postfix_harness as h


def addr(local: str) -> str:
    return f"{local}@{s.DOMAIN}"


class MilterOutageTest(s.StackTestCase):
    AGENTS = [addr("agent-outage"), addr("agent-midway"), addr("agent-pending")]
    USERS = [addr("sender-outage"), addr("req-pending")]
    REPLY_GATE = True

    def setUp(self):
        if not self.stack.milter.running():  # a failed test may have left it down
            self.stack.milter.start()

    def delivered(self, mailbox, message_id):
        return [m for m in self.pf.messages(mailbox) if m["Message-ID"] == message_id]

    def test_killed_milter_tempfails_and_the_same_mail_is_accepted_after_restart(self):
        agent, sender = addr("agent-outage"), addr("sender-outage")
        self.stack.ctl.allow_sender(agent, sender)
        msg = s.dispatch(sender, agent, "project=alpha")
        self.stack.milter.kill()
        result = self.submit(sender, agent, msg)
        if not result.transient:
            self.fail_with_logs(f"milter down: expected 4xx, got {result}")
        self.pf.wait_kept_nothing("Postfix took nothing: the client keeps the mail")
        self.stack.milter.start()
        result = self.submit(sender, agent, msg)  # the client's retry: the same bytes
        self.assertAccepted(result, "the same dispatch after the restart")
        h.wait_until(lambda: self.delivered(agent, msg["Message-ID"]), 20,
                     "the retried dispatch in the agent's Maildir", detail=self.stack.diagnostics)
        self.stack.wait_settled()
        got = self.delivered(agent, msg["Message-ID"])
        self.assertEqual(len(got), 1, "delivered exactly once")
        self.assertEqual(len(self.authres(got[0])), 1, "with our verdict header")

    def test_local_submission_while_the_milter_is_down_waits_in_the_maildrop(self):
        agent = addr("agent-outage")
        msg = h.make_message(addr("sender-outage"), agent, "local while down")
        self.stack.milter.kill()
        since = self.pf.log_size()
        proc = self.pf.inject(addr("sender-outage"), [agent], msg)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        self.pf.wait_for_log(r"cleanup\[\d+\]: \w+: milter-reject: .*try again later", since=since)
        self.assertEqual(self.delivered(agent, msg["Message-ID"]), [])
        self.assertGreaterEqual(len(self.pf.queue_files()["maildrop"]), 1, self.pf.diagnostics())
        self.stack.milter.start()
        self.pf.flush()
        h.wait_until(lambda: self.delivered(agent, msg["Message-ID"]), 30,
                     "the maildrop message delivered after the restart", detail=self.stack.diagnostics)
        self.stack.wait_settled()
        self.assertEqual(len(self.delivered(agent, msg["Message-ID"])), 1, "delivered exactly once")

    def test_milter_killed_in_the_middle_of_a_transaction_gets_4xx_at_end_of_data(self):
        agent, sender = addr("agent-midway"), addr("sender-outage")
        self.stack.ctl.allow_sender(agent, sender)
        msg = s.dispatch(sender, agent)
        client = smtplib.SMTP("127.0.0.1", self.pf.submission_port, timeout=30)
        self.addCleanup(client.close)
        client.ehlo("client.example.test")
        client.login(*s.login_for(sender))
        self.assertEqual(client.mail(sender)[0], 250)
        self.assertEqual(client.rcpt(agent)[0], 250)
        self.stack.milter.kill()  # the milter connection for this session dies here
        try:
            code, text = client.data(msg.as_bytes())
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
        if not 400 <= code < 500:
            self.fail_with_logs(f"milter killed mid-transaction: expected 4xx, got {code} {text!r}")
        client.quit()
        self.pf.wait_kept_nothing("the milter was killed mid-transaction")
        self.stack.milter.start()
        result = self.submit(sender, agent, msg)
        self.assertAccepted(result, "the same dispatch after the restart")
        h.wait_until(lambda: self.delivered(agent, msg["Message-ID"]), 20,
                     "the retried dispatch delivered", detail=self.stack.diagnostics)
        self.stack.wait_settled()
        self.assertEqual(len(self.delivered(agent, msg["Message-ID"])), 1)

    def test_reply_pending_in_the_outbox_at_the_kill_is_delivered_once_after_restart(self):
        agent, requester = addr("agent-pending"), addr("req-pending")
        self.stack.hold_path.touch()  # the reply transport fails until this goes
        self.addCleanup(self.stack.hold_path.unlink, missing_ok=True)
        code = self.stack.ctl.issue_code(agent)
        request = s.pair_request(requester, agent, code)
        task = request["X-AAMP-TaskId"]
        self.assertAccepted(self.submit(requester, agent, request), "pair.request")

        def attempted():
            rows = [r for r in self.stack.outbox() if r["task_id"] == task]
            return rows and rows[0]["attempts"] >= 1 and rows
        rows = h.wait_until(attempted, 20, "a failed delivery attempt of the reply",
                            detail=self.stack.diagnostics)
        self.assertIsNone(rows[0]["sent_at"], "the gate is closed: not sent yet")
        self.stack.milter.kill()
        self.stack.hold_path.unlink()
        pending = [r for r in self.stack.pending_replies() if r["task_id"] == task]
        self.assertEqual(len(pending), 1, "the reply survives the kill in the outbox")
        self.assertEqual(self.stack.replies(requester, task), [])
        self.stack.milter.start()
        reply = self.stack.wait_reply(requester, task, timeout=30)
        self.assertEqual(reply["X-AAMP-Status"], "completed")
        self.stack.wait_settled()
        self.assertEqual(len(self.stack.replies(requester, task)), 1, "delivered exactly once")
        row = next(r for r in self.stack.outbox() if r["task_id"] == task)
        self.assertIsNotNone(row["sent_at"])
        self.assertEqual(reply["Message-ID"], row["message_id"])


if __name__ == "__main__":
    unittest.main()
