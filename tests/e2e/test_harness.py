"""test_harness — proves tests/e2e/postfix_harness.py on its own, before any milter runs.

A throwaway Postfix with no milter delivers to Maildirs over plain SMTP, over authenticated
submission (a wrong password is refused) and through sendmail -C; with a milter socket
where nothing listens it answers 4xx and keeps nothing (the mail stays with the client).
Nothing here needs the aamp binaries. Tests in one class share one Postfix instance and
run in the order unittest gives them; each test counts only its own messages.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import unittest
from pathlib import Path

import postfix_harness as h

AGENT = "agent@example.test"
ALICE = "alice@example.test"
ALICE_LOGIN = ("alice@example.test", "correct horse")


class PostfixWithoutMilterTest(unittest.TestCase):
    """One instance, no milter: the harness's delivery paths."""

    @classmethod
    def setUpClass(cls):
        cls.pf = h.PostfixInstance(mailboxes=[AGENT, ALICE],
                                   sasl_users={"alice": ALICE_LOGIN[1]})
        cls.addClassCleanup(cls.pf.close)
        cls.pf.start()

    def fail_with_log(self, msg):
        self.fail(f"{msg}\n{self.pf.diagnostics()}")

    def delivered_ids(self, address):
        return [m["Message-ID"] for m in self.pf.messages(address)]

    def test_listens_on_loopback_ports_above_1024(self):
        for port in (self.pf.smtp_port, self.pf.submission_port):
            self.assertGreater(port, 1024)
        self.assertNotEqual(self.pf.smtp_port, self.pf.submission_port)

    def test_plain_smtp_delivers_to_the_maildir(self):
        msg = h.make_message("bob@other.test", AGENT, "plain smtp")
        result = self.pf.send("bob@other.test", AGENT, msg)
        if not result.accepted:
            self.fail_with_log(f"plain SMTP not accepted: {result}")
        self.pf.wait_for_messages(AGENT, 1)
        h.wait_until(lambda: msg["Message-ID"] in self.delivered_ids(AGENT), 20,
                     "the plain-SMTP message in the agent's Maildir", detail=self.pf.diagnostics)
        got = [m for m in self.pf.messages(AGENT) if m["Message-ID"] == msg["Message-ID"]]
        self.assertEqual(len(got), 1, "delivered exactly once")
        self.assertEqual(got[0]["Subject"], "plain smtp")
        self.assertIn(f"id {result.queue_id}", got[0]["Received"])

    def test_authenticated_submission_delivers_with_the_login(self):
        msg = h.make_message(ALICE, AGENT, "submission")
        result = self.pf.send(ALICE, AGENT, msg, login=ALICE_LOGIN)
        if not result.accepted:
            self.fail_with_log(f"authenticated submission not accepted: {result}")
        h.wait_until(lambda: msg["Message-ID"] in self.delivered_ids(AGENT), 20,
                     "the submitted message in the agent's Maildir", detail=self.pf.diagnostics)
        got = next(m for m in self.pf.messages(AGENT) if m["Message-ID"] == msg["Message-ID"])
        self.assertIn("ESMTPA", got["Received"], "Postfix marks the hop as authenticated")
        self.pf.wait_for_log(rf"{result.queue_id}: client=.*sasl_username=alice@example\.test")

    def test_submission_refuses_a_wrong_password(self):
        msg = h.make_message(ALICE, AGENT, "wrong password")
        result = self.pf.send(ALICE, AGENT, msg, login=(ALICE_LOGIN[0], "wrong"))
        self.assertEqual((result.stage, result.code), ("auth", 535), str(result))
        self.assertNotIn(msg["Message-ID"], self.delivered_ids(AGENT))

    def test_submission_refuses_an_unknown_login(self):
        result = self.pf.send(ALICE, AGENT, h.make_message(ALICE, AGENT),
                              login=("mallory@example.test", ALICE_LOGIN[1]))
        self.assertEqual((result.stage, result.code), ("auth", 535), str(result))

    def test_submission_refuses_a_client_that_did_not_log_in(self):
        msg = h.make_message(ALICE, AGENT, "no login")
        result = h.smtp_send("127.0.0.1", self.pf.submission_port, ALICE, [AGENT], msg)
        self.assertEqual(result.stage, "rcpt", str(result))
        self.assertTrue(result.permanent, str(result))
        self.assertNotIn(msg["Message-ID"], self.delivered_ids(AGENT))

    def test_sendmail_injects_into_this_instance(self):
        msg = h.make_message(ALICE, ALICE, "via sendmail")
        proc = self.pf.inject(ALICE, [ALICE], msg)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        self.assertEqual(proc.args[:3], [h.SENDMAIL, "-C", str(self.pf.config_dir)])
        h.wait_until(lambda: msg["Message-ID"] in self.delivered_ids(ALICE), 20,
                     "the injected message in alice's Maildir", detail=self.pf.diagnostics)
        self.pf.wait_for_log(r"pickup\[\d+\]: \w+: uid=0 from=<alice@example\.test>")

    def test_unknown_mailbox_in_the_test_domain_is_refused(self):
        result = self.pf.send("bob@other.test", "nobody-here@example.test",
                              h.make_message("bob@other.test", "nobody-here@example.test"))
        self.assertEqual((result.stage, result.code), ("rcpt", 550), str(result))

    def test_queue_drains(self):
        self.pf.send("bob@other.test", AGENT, h.make_message("bob@other.test", AGENT, "drain"))
        self.pf.wait_queue_empty(timeout=20)
        self.assertEqual(self.pf.queue_size(), 0, self.pf.diagnostics())


class PostfixWithDeadMilterTest(unittest.TestCase):
    """A milter socket where nothing listens: Postfix must tempfail (never accept and
    never lose) because milter_default_action = tempfail."""

    @classmethod
    def setUpClass(cls):
        cls.milter_port = h.free_ports(1)[0]
        cls.pf = h.PostfixInstance(milter=f"inet:127.0.0.1:{cls.milter_port}",
                                   mailboxes=[AGENT, ALICE], sasl_users={"alice": ALICE_LOGIN[1]})
        cls.addClassCleanup(cls.pf.close)
        cls.pf.start()

    def test_config_attaches_the_milter_with_tempfail_default(self):
        cf = self.pf.main_cf()
        spec = f"inet:127.0.0.1:{self.milter_port}"
        self.assertEqual(cf["smtpd_milters"], spec)
        self.assertEqual(cf["non_smtpd_milters"], spec)
        self.assertEqual(cf["milter_default_action"], "tempfail")
        self.assertEqual(cf["milter_protocol"], "6")

    def test_smtp_transaction_gets_4xx_and_nothing_is_queued(self):
        since = self.pf.log_size()
        msg = h.make_message("bob@other.test", AGENT, "dead milter smtp")
        result = self.pf.send("bob@other.test", AGENT, msg)
        self.assertFalse(result.accepted, str(result))
        self.assertEqual(result.code, 451, f"{result}\n{self.pf.log_tail()}")
        self.assertTrue(result.text.startswith("4.7.1"), str(result))
        self.pf.wait_for_log(rf"connect to Milter service inet:127\.0\.0\.1:{self.milter_port}: "
                             r"Connection refused", since=since)
        # The client still holds the mail: Postfix took no responsibility for it (smtpd
        # queues through incoming; the maildrop is sendmail's, see the next test).
        self.pf.wait_kept_nothing("the milter was down")
        self.assertEqual(self.pf.count(AGENT), 0)
        self.assertNotRegex(self.pf.log_since(since), r"queued as|status=sent")

    def test_authenticated_submission_gets_4xx(self):
        result = self.pf.send(ALICE, AGENT, h.make_message(ALICE, AGENT, "dead milter sub"),
                              login=ALICE_LOGIN)
        self.assertFalse(result.accepted, str(result))
        self.assertTrue(result.transient, f"{result}\n{self.pf.log_tail()}")
        self.assertEqual(self.pf.count(AGENT), 0)

    def test_sendmail_injection_stays_in_the_maildrop(self):
        since = self.pf.log_size()
        before = len(self.pf.queue_files()["maildrop"])
        proc = self.pf.inject(ALICE, [AGENT], h.make_message(ALICE, AGENT, "dead milter local"))
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        self.pf.wait_for_log(r"cleanup\[\d+\]: \w+: milter-reject: .*try again later", since=since)
        # pickup leaves the file where it was, to retry later: not lost, not delivered.
        self.assertEqual(len(self.pf.queue_files()["maildrop"]), before + 1, self.pf.diagnostics())
        self.assertEqual(self.pf.count(AGENT), 0)


_ORPHAN_SCRIPT = textwrap.dedent("""
    import json, os, signal, sys
    sys.path.insert(0, {here!r})
    import postfix_harness as h
    pf = h.PostfixInstance(mailboxes=["agent@example.test"])
    pf.start()
    print(json.dumps({{"root": str(pf.root), "pids": pf.processes()}}), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # as a ctest timeout would: no cleanup runs
""")


class HarnessCleanupTest(unittest.TestCase):
    """No process outlives a test, even when the test process itself is killed."""

    def test_close_stops_every_process_and_removes_the_directory(self):
        pf = h.PostfixInstance(mailboxes=[AGENT])
        self.addCleanup(pf.close)
        pf.start()
        # The master listens itself; it starts qmgr and pickup right after.
        pids = h.wait_until(lambda: len(pf.processes()) >= 3 and pf.processes(), 10,
                            "master, qmgr and pickup", detail=pf.log_tail)
        self.assertIn(pf.master_pid(), pids)
        root = pf.root
        pf.close()
        alive = [p for p in pids if h.pid_alive(p)]
        self.assertEqual(alive, [], "processes left after close()")
        self.assertFalse(root.exists() and not os.environ.get("AAMP_E2E_KEEP"))

    def test_leftovers_of_a_killed_test_process_are_reaped(self):
        here = str(Path(__file__).resolve().parent)
        proc = subprocess.run([sys.executable, "-c", _ORPHAN_SCRIPT.format(here=here)],
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, -signal.SIGKILL, proc.stderr.decode(errors="replace"))
        info = json.loads(proc.stdout.decode().splitlines()[-1])
        self.addCleanup(shutil.rmtree, info["root"], True)
        orphans = [p for p in info["pids"] if h.pid_alive(p)]
        self.addCleanup(h.kill_pids, orphans)
        self.assertTrue(orphans, "the killed run should have left its Postfix running")
        reaped = h.reap_orphans()
        self.assertTrue(set(orphans) <= set(reaped), f"orphans {orphans}, reaped {reaped}")
        self.assertEqual([p for p in orphans if h.pid_alive(p)], [])

    def test_milter_process_helper_starts_waits_and_stops_by_pid(self):
        # Any real listener shows the helper's life cycle; Postfix's smtp-sink is one.
        root = h.make_root()
        self.addCleanup(shutil.rmtree, root, True)
        port = h.free_ports(1)[0]
        proc = h.MilterProcess(root, "# unused\n", ready=("inet", "127.0.0.1", port),
                               binary="/usr/sbin/smtp-sink",
                               args=["-u", "nobody", f"127.0.0.1:{port}", "10"], name="sink")
        self.addCleanup(proc.close)
        proc.start(timeout=10)
        pid = proc.pid
        self.assertEqual(h._environ_of(pid).get("AAMP_E2E_ROOT"), str(root))
        self.assertGreater(proc.rss_kb(), 0)
        self.assertGreater(proc.fd_count(), 2)
        proc.kill()
        self.assertFalse(h.pid_alive(pid))
        proc.start(timeout=10)  # a restart after a kill, as the outage tests do
        self.assertNotEqual(proc.pid, pid)
        proc.stop()
        self.assertFalse(proc.running())


if __name__ == "__main__":
    unittest.main()
