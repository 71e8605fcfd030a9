"""test_reply_transports — the two ReplyTransport kinds against a real Postfix 3.7.

A throwaway Postfix (tests/e2e/postfix_harness.py, no milter) receives a pair.respond from
tests/helpers/reply_send_helper (build_pair_respond + the transport, as the reply worker
does): through sendmail(1) -C, through plain SMTP, and through authenticated submission
(Cyrus SASL; libcurl's AUTH against a real server, which smtp-sink cannot play). Each
delivered reply is read back from the requester's Maildir: the AAMP headers, the null
sender as Return-Path, and one copy only. A wrong password delivers nothing.
The rig offers STARTTLS with a self-signed certificate, as Debian's Postfix does: the
default (opportunistic) encrypts without verifying, starttls=required verifies and so
defers unless ca-file= names the rig's certificate.
"""

import os
import subprocess
import unittest
from pathlib import Path

import postfix_harness as h

AGENT = "agent@example.test"
REQUESTER = "requester@example.test"
LOGIN = ("agent@example.test", "reply secret")

HELPER = Path(os.environ.get("AAMP_BINARY_DIR", "build")) / "tests" / "reply_send_helper"


@unittest.skipUnless(HELPER.exists(), f"{HELPER} is not built")
class ReplyTransportsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pf = h.PostfixInstance(mailboxes=[AGENT, REQUESTER], sasl_users={"agent": LOGIN[1]})
        cls.addClassCleanup(cls.pf.close)
        cls.pf.start()
        cls.secret = cls.pf.root / "smtp.secret"
        cls.secret.write_text(LOGIN[1] + "\n")
        cls.secret.chmod(0o600)

    def send(self, spec, envelope_from, task):
        message_id = f"<aamp-pair.{task}@example.test>"
        run = subprocess.run([str(HELPER), spec, envelope_from, AGENT, REQUESTER, task, message_id],
                             capture_output=True, text=True, timeout=60)
        return run, message_id

    def delivered(self, message_id, timeout=30.0):
        def found():
            hits = [m for m in self.pf.messages(REQUESTER) if m["Message-ID"] == message_id]
            return hits or None
        try:
            return h.wait_until(found, timeout, f"delivery of {message_id}")
        except h.HarnessError:
            self.fail(f"{message_id} was not delivered\n{self.pf.diagnostics()}")

    def check_reply(self, message, task, return_path):
        self.assertEqual(message["X-AAMP-Intent"], "pair.respond")
        self.assertEqual(message["X-AAMP-Version"], "1.1")
        self.assertEqual(message["X-AAMP-TaskId"], task)
        self.assertEqual(message["X-AAMP-Status"], "completed")
        self.assertEqual(message["Auto-Submitted"], "auto-replied")
        self.assertEqual(message["In-Reply-To"], f"<request-{task}@example.test>")
        self.assertEqual(message["Subject"], "[AAMP Pair] completed")
        self.assertEqual(message["Return-Path"], return_path)
        self.assertTrue(message.get_content().startswith("AAMP Pair Response\n"))

    def test_sendmail_null_sender(self):
        spec = "sendmail:/usr/sbin/sendmail -C " + str(self.pf.config_dir)
        run, message_id = self.send(spec, "", "sendmail-null")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        got = self.delivered(message_id)
        self.assertEqual(len(got), 1)
        self.check_reply(got[0], "sendmail-null", "<>")

    def test_smtp_plain(self):
        run, message_id = self.send(f"smtp://127.0.0.1:{self.pf.smtp_port}", "", "smtp-plain")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        got = self.delivered(message_id)
        self.assertEqual(len(got), 1)
        self.check_reply(got[0], "smtp-plain", "<>")
        # The default is opportunistic: STARTTLS was offered, so the hop was encrypted.
        self.assertIn("with ESMTPS ", got[0]["Received"])

    def test_smtp_starttls_off_stays_in_clear(self):
        spec = f"smtp://127.0.0.1:{self.pf.smtp_port} starttls=off"
        run, message_id = self.send(spec, "", "smtp-clear")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        got = self.delivered(message_id)
        self.assertEqual(len(got), 1)
        self.assertIn("with ESMTP ", got[0]["Received"])

    def test_smtp_starttls_required_refuses_a_self_signed_certificate(self):
        spec = f"smtp://127.0.0.1:{self.pf.smtp_port} starttls=required"
        run, message_id = self.send(spec, "", "smtp-required")
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertTrue(run.stdout.startswith("temporary "), run.stdout)
        self.assertIn("curl error 60", run.stdout)  # CURLE_PEER_FAILED_VERIFICATION
        self.assertIn("self-signed certificate", run.stdout)
        self.pf.wait_queue_empty()
        self.assertEqual([m for m in self.pf.messages(REQUESTER) if m["Message-ID"] == message_id], [])

    def test_smtp_starttls_required_with_the_rigs_certificate_as_ca_file(self):
        spec = f"smtp://127.0.0.1:{self.pf.smtp_port} starttls=required ca-file={self.pf.tls_cert_file}"
        run, message_id = self.send(spec, "", "smtp-verified")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        got = self.delivered(message_id)
        self.assertEqual(len(got), 1)
        self.check_reply(got[0], "smtp-verified", "<>")
        self.assertIn("with ESMTPS ", got[0]["Received"])

    def test_smtp_submission_with_auth(self):
        spec = (f"smtp://127.0.0.1:{self.pf.submission_port} user={LOGIN[0]} "
                f"password-file={self.secret}")
        run, message_id = self.send(spec, AGENT, "smtp-auth")
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        got = self.delivered(message_id)
        self.assertEqual(len(got), 1)
        self.check_reply(got[0], "smtp-auth", f"<{AGENT}>")
        # Opportunistic on loopback: STARTTLS first, then AUTH inside it.
        self.assertIn("with ESMTPSA ", got[0]["Received"])

    def test_smtp_submission_wrong_password_delivers_nothing(self):
        wrong = self.pf.root / "wrong.secret"
        wrong.write_text("not the password\n")
        spec = f"smtp://127.0.0.1:{self.pf.submission_port} user={LOGIN[0]} password-file={wrong}"
        run, message_id = self.send(spec, AGENT, "smtp-wrong")
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        self.assertTrue(run.stdout.startswith("temporary "), run.stdout)
        self.assertIn("curl error 67", run.stdout)  # CURLE_LOGIN_DENIED
        # Submission refuses unauthenticated clients, so nothing can have gone through.
        self.pf.wait_queue_empty()
        self.assertEqual([m for m in self.pf.messages(REQUESTER) if m["Message-ID"] == message_id], [])


if __name__ == "__main__":
    unittest.main()
