"""test_pairing — a pair.request through the real daemon: the code issued with aampctl is
redeemed at end of message, the request is consumed, the reply worker (a thread of the
daemon, woken by the decision) hands a pair.respond to the configured sendmail command,
and the requester may dispatch afterwards. The sendmail command is a script that keeps
what it was given.
"""

import json
import os
import subprocess
import unittest
from pathlib import Path

from milter_harness import STALWART_CONNECT_MACROS, STALWART_STEPS, Milter, Transaction, aamp_headers, wait_until

AAMPCTL = os.environ.get("AAMPCTL", "")

FAKE_SENDMAIL = """#!/bin/sh
# Keeps each message it is given, with its arguments, in the directory it lives in.
dir=$(dirname "$0")
n=$(date +%s%N)
printf '%s\\n' "$@" > "$dir/args.$n"
cat > "$dir/part.$n" && mv "$dir/part.$n" "$dir/mail.$n"   # appears only when complete
"""


class Pairing(unittest.TestCase):
    def setUp(self):
        if not AAMPCTL or not os.access(AAMPCTL, os.X_OK):
            self.fail(f"no aampctl binary (AAMPCTL={AAMPCTL!r})")
        self.milter = Milter()
        self.addCleanup(self.milter.close)
        self.outdir = self.milter.root / "sent"
        self.outdir.mkdir()
        sendmail = self.outdir / "sendmail"
        sendmail.write_text(FAKE_SENDMAIL)
        sendmail.chmod(0o755)
        self.milter.write_config(self.milter.config_text + f"ReplyTransport sendmail:{sendmail}\nReplyPollInterval 1h\n")
        self.milter.start()

    def ctl(self, *args):
        p = subprocess.run([AAMPCTL, "--db", self.milter.database, *args], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def sent(self):
        return sorted(self.outdir.glob("mail.*"))

    def test_pair_request_through_stalwart_is_discarded_not_emptied(self):
        # Stalwart's DISCARD answers 250 and drops the message (data.rs:608-611); a message
        # left with zero recipients would sit in its spool, never delivered (data.rs:740).
        self.ctl("mailbox", "add", "agent@example.test")
        code = json.loads(self.ctl("--json", "pair", "issue", "--mailbox", "agent@example.test", "--ttl", "5m"))["code"]
        tx = Transaction(mail_from="<bob@partner.test>", steps=STALWART_STEPS, connect_macros=STALWART_CONNECT_MACROS,
                         mail_macros={"{mail_addr}": "bob@partner.test", "{auth_authen}": "bob@partner.test"},
                         rcpt_macros={"{rcpt_addr}": "agent@example.test"},
                         headers=aamp_headers("pair.request", "pair-1", "Bob <bob@partner.test>",
                                              extra=[("X-AAMP-Pair-Code", code)]))
        r = self.milter.run(tx)
        self.assertEqual(r.eom, "discard", r.stdout)
        self.assertFalse(any(r.rcpt_deleted.values()), r.stdout)

    def test_pair_request_is_redeemed_and_answered(self):
        self.ctl("mailbox", "add", "agent@example.test")
        code = json.loads(self.ctl("--json", "pair", "issue", "--mailbox", "agent@example.test", "--ttl", "5m"))["code"]
        bob = {"{auth_authen}": "bob@partner.test"}
        tx = Transaction(mail_from="<bob@partner.test>", mail_macros=bob,
                         headers=aamp_headers("pair.request", "pair-1", "Bob <bob@partner.test>",
                                              extra=[("X-AAMP-Pair-Code", code)]))
        r = self.milter.run(tx)
        # Consumed at the MTA: the only recipient is dropped, so the message is discarded.
        self.assertEqual(r.eom, "discard", r.stdout)
        s = self.milter.summary(tx.queue_id)
        self.assertEqual(s["verdict"], "pair-completed")
        self.assertNotIn(code, self.milter.log())  # never a whole pair code in the log

        # The worker was woken by the decision (its poll interval is an hour).
        wait_until(self.sent, 15, "the pair.respond to reach sendmail")
        mail = self.sent()[0].read_text()
        self.assertIn("X-AAMP-Intent: pair.respond", mail)
        self.assertIn("X-AAMP-Status: completed", mail)
        self.assertIn("X-AAMP-TaskId: pair-1", mail)
        self.assertIn(f"In-Reply-To: {r.message_ids[0]}", mail)  # the request's own Message-ID
        self.assertNotIn(code, mail)
        args = sorted(self.outdir.glob("args.*"))[0].read_text().split()
        self.assertIn("bob@partner.test", args)

        # Bob is paired now: his dispatch is allowed.
        tx = Transaction(mail_from="<bob@partner.test>", mail_macros=bob,
                         headers=aamp_headers(sender="bob@partner.test", task_id="after-pairing"))
        r = self.milter.run(tx)
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertEqual(self.milter.summary(tx.queue_id)["verdict"], "allow")

    def test_wrong_code_is_refused_and_answered(self):
        self.ctl("mailbox", "add", "agent@example.test")
        bob = {"{auth_authen}": "bob@partner.test"}
        tx = Transaction(mail_from="<bob@partner.test>", mail_macros=bob,
                         headers=aamp_headers("pair.request", "pair-2", "bob@partner.test",
                                              extra=[("X-AAMP-Pair-Code", "d3JvbmdDb2Rl")]))
        r = self.milter.run(tx)
        self.assertEqual(self.milter.summary(tx.queue_id)["verdict"], "pair-rejected", r.stdout)
        wait_until(self.sent, 15, "the rejection to reach sendmail")
        mail = self.sent()[0].read_text()
        self.assertIn("X-AAMP-Status: rejected", mail)


if __name__ == "__main__":
    unittest.main()
