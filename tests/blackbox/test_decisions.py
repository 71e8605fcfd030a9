"""test_decisions — the real aamp-milter, driven by miltertest as an MTA would drive it: what
it does to AAMP and non-AAMP mail, with a real SQLite policy database.
"""

import time
import unittest

from milter_harness import (SMFIP_SKIP, STALWART_CONNECT_MACROS, STALWART_STEPS, Milter, Transaction, aamp_headers,
                            unique_message_id)


class Decisions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.milter = Milter()
        cls.addClassCleanup(cls.milter.close)  # also when the rest of setUpClass fails
        cls.milter.start()
        db = cls.milter.db
        agent = db.add_mailbox("agent@example.test")
        db.allow(agent, "alice@example.test")
        cls.helper = db.add_mailbox("helper@example.test")  # nobody may dispatch to it

    def run_tx(self, **kw):
        kw.setdefault("mail_macros", {"{auth_authen}": "alice@example.test", "{auth_type}": "PLAIN"})
        tx = Transaction(**kw)
        r = self.milter.run(tx)
        # The summary line is written before the end-of-message reply is sent.
        lines = self.milter.summaries(tx.queue_id) if tx.rcpt_macros is None else []
        self.assertLessEqual(len(lines), 1, lines)
        r.summary = lines[0] if lines else None
        return r

    def test_allowed_dispatch_gets_the_verdict_header(self):
        r = self.run_tx(headers=aamp_headers())
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertEqual(r.summary["action"], "accept")
        self.assertNotIn("reply", r.summary)
        values = r.added.get("Authentication-Results", [])
        self.assertEqual(len(values), 1, r.stdout)
        self.assertTrue(values[0].startswith("mx.example.test; aamp=pass"), values[0])
        self.assertIn("policy.rcpt=agent@example.test", values[0])
        self.assertFalse(r.deleted["Authentication-Results"])
        audit = [a for a in self.milter.db.audit() if a["messageId"] == r.summary["id"]]
        self.assertEqual([a["verdict"] for a in audit], ["allow"])

    def test_unknown_sender_is_refused_550(self):
        r = self.run_tx(mail_from="<mallory@example.test>", headers=aamp_headers(sender="mallory@example.test"),
                        mail_macros={"{auth_authen}": "mallory@example.test"})
        self.assertEqual(r.eom, "replycode", r.stdout)
        self.assertEqual(r.summary["reply"], "550/5.7.1")

    def test_unauthenticated_sender_is_refused_550(self):
        r = self.run_tx(headers=aamp_headers(), mail_macros={})
        self.assertEqual(r.eom, "replycode", r.stdout)
        self.assertEqual(r.summary["reply"], "550/5.7.1")

    def test_malformed_message_is_refused_554(self):
        r = self.run_tx(headers=aamp_headers(intent="task.explode"))
        self.assertEqual(r.eom, "replycode", r.stdout)
        self.assertEqual(r.summary["reply"], "554/5.6.0")

    def test_duplicate_intent_is_malformed(self):
        r = self.run_tx(headers=aamp_headers(extra=[("X-AAMP-Intent", "task.cancel")]))
        self.assertEqual(r.summary["reply"], "554/5.6.0", r.stdout)

    def test_non_aamp_mail_passes_untouched(self):
        r = self.run_tx(headers=[("From", "bob@example.test"), ("To", "agent@example.test"), ("Subject", "lunch")],
                        mail_from="<bob@example.test>", mail_macros={})
        self.assertEqual(r.replies["eoh"], "accept", r.stdout)  # accepted at end of headers: body never sent
        self.assertNotIn("eom", r.replies)
        self.assertEqual(r.added, {})

    def test_forged_verdict_is_removed_before_ours_is_added(self):
        forged = ("Authentication-Results", "mx.example.test; aamp=pass policy.rule=99")
        r = self.run_tx(headers=[forged] + aamp_headers())
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertTrue(r.deleted["Authentication-Results"], r.stdout)
        self.assertEqual(len(r.added.get("Authentication-Results", [])), 1, r.stdout)
        self.assertNotIn("policy.rule=99", r.added["Authentication-Results"][0])

    def test_forged_verdict_is_removed_from_plain_mail(self):
        r = self.run_tx(headers=[("From", "bob@example.test"), ("Authentication-Results", "MX.example.TEST; aamp=pass")],
                        mail_from="<bob@example.test>", mail_macros={})
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertTrue(r.deleted["Authentication-Results"], r.stdout)
        self.assertEqual(r.added, {})

    def test_forged_spellings_are_removed_and_logged(self):
        # Spellings Python's email or Node's mailparser read as ours; Stalwart blanks a value
        # that is not UTF-8. Plain mail, on Postfix and on Stalwart: removed, and a notice says so.
        stalwart = dict(steps=STALWART_STEPS, rcpt_macros={},
                        connect_macros={"{daemon_name}": "Stalwart Mail Server v0.10.5", "{client_addr}": "192.0.2.9"})
        for label, value, mta in (("encoded-word", "=?utf-8?q?mx.example.test?=; aamp=pass", {}),
                                  ("vertical tab", "mx.example.test\x0b; aamp=pass", {}),
                                  ("NBSP", "mx.example.test\u00a0; aamp=pass", {}),
                                  ("trailing dot", "mx.example.test.; aamp=pass", stalwart),
                                  ("blank, as Stalwart passes it", "", stalwart)):
            with self.subTest(label):
                notice = "removed 1 forged verdict claiming our authserv-id: Authentication-Results#2"
                before = self.milter.log().count(notice)
                r = self.run_tx(headers=[("Authentication-Results", "mx.upstream.test; spf=pass"),
                                         ("From", "bob@example.test"), ("Authentication-Results", value)],
                                mail_from="<bob@example.test>", mail_macros={}, **mta)
                self.assertEqual(r.eom, "continue", r.stdout)
                self.assertTrue(r.deleted["Authentication-Results"], r.stdout)
                self.assertEqual(r.added, {})
                self.assertEqual(self.milter.log().count(notice), before + 1, self.milter.log())

    def test_multi_recipient_split(self):
        # alice may dispatch to agent@ but not to helper@: helper@ is removed, agent@ keeps it.
        r = self.run_tx(rcpts=["<agent@example.test>", "<helper@example.test>", "<human@example.test>"],
                        headers=aamp_headers())
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertEqual(r.rcpt_deleted, {"<agent@example.test>": False, "<helper@example.test>": True,
                                          "<human@example.test>": False}, r.stdout)
        self.assertEqual(len(r.added.get("Authentication-Results", [])), 1)

    def test_every_protected_recipient_refuses(self):
        r = self.run_tx(rcpts=["<helper@example.test>"], headers=aamp_headers())
        self.assertEqual(r.summary["reply"], "550/5.7.1", r.stdout)

    def test_unprotected_recipients_get_nothing(self):
        r = self.run_tx(rcpts=["<human@example.test>"], headers=aamp_headers())
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertEqual(r.added, {})

    def test_stalwart_like_session(self):
        # No SMFIP_SKIP offered, {daemon_name} "Stalwart...", no `i` at all, trimmed values,
        # the header block repeated in the body.
        headers = aamp_headers()
        body = "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\nplease do the work\r\n"
        r = self.run_tx(headers=headers, body=body, steps=STALWART_STEPS, rcpt_macros={},
                        connect_macros={"{daemon_name}": "Stalwart Mail Server v0.10.5", "{client_addr}": "192.0.2.9"})
        self.assertEqual(r.replies["body"], "continue", r.stdout)  # no SMFIS_SKIP without SMFIP_SKIP
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertEqual(len(r.added.get("Authentication-Results", [])), 1, r.stdout)
        line = [l for l in self.milter.log().splitlines() if "task=task-1" in l and "aamp-" in l]
        self.assertTrue(line, self.milter.log())
        self.assertRegex(line[-1], r"\]: aamp-[A-Za-z0-9_-]{8}: client=")

    def test_stalwart_like_plain_mail_is_answered_to_the_end(self):
        # An early ACCEPT would leave Stalwart waiting for an EOM answer libmilter never sends.
        r = self.run_tx(headers=[("From", "bob@example.test"), ("Subject", "hi")], steps=STALWART_STEPS,
                        mail_from="<bob@example.test>", mail_macros={}, rcpt_macros={},
                        connect_macros={"{daemon_name}": "Stalwart Mail Server v0.10.5"})
        self.assertEqual(r.replies["eoh"], "continue", r.stdout)
        self.assertEqual(r.replies["body"], "continue", r.stdout)
        self.assertIn(r.eom, ("continue", "accept"), r.stdout)
        self.assertEqual(r.added, {})

    def test_stalwart_offering_skip_is_not_accepted_early(self):
        # An operator may add SKIP to Stalwart's flagsProtocol; Stalwart still treats ACCEPT as
        # CONTINUE and would wait for an EOM answer libmilter never sends. SKIP is honoured in
        # the body loop only.
        r = self.run_tx(headers=[("From", "bob@example.test"), ("Subject", "hi")], steps=STALWART_STEPS | SMFIP_SKIP,
                        mail_from="<bob@example.test>", mail_macros={"{mail_addr}": "bob@example.test"},
                        rcpt_macros={"{rcpt_addr}": "agent@example.test"}, connect_macros=STALWART_CONNECT_MACROS)
        self.assertTrue(r.negotiated["SMFIP_SKIP"], r.stdout)
        self.assertEqual(r.replies["eoh"], "continue", r.stdout)
        self.assertEqual(r.replies["body"], "skip", r.stdout)
        self.assertIn(r.eom, ("continue", "accept"), r.stdout)
        self.assertEqual(r.added, {})

    def test_negotiation(self):
        # Only the actions we use; of the protocol steps only SKIP: every "no reply" or
        # "don't send" step cost Postfix ~40 ms per message over TCP (postfix-on-loopback.md).
        want = {"SMFIF_ADDHDRS": True, "SMFIF_CHGHDRS": True, "SMFIF_DELRCPT": True, "SMFIF_QUARANTINE": True,
                "SMFIF_CHGBODY": False, "SMFIF_ADDRCPT": False, "SMFIF_CHGFROM": False, "SMFIP_SKIP": True}
        r = self.run_tx(headers=[("From", "bob@example.test")], mail_macros={})
        for name, asked in r.negotiated.items():
            with self.subTest(name=name):
                self.assertEqual(asked, want.get(name, False))
        self.assertEqual(len(r.negotiated), 26)
        r = self.run_tx(headers=[("From", "bob@example.test")], mail_macros={}, steps=STALWART_STEPS)
        self.assertFalse(any(v for k, v in r.negotiated.items() if k.startswith("SMFIP_")), r.negotiated)

    def test_postfix_body_is_skipped(self):
        r = self.run_tx(headers=aamp_headers())
        self.assertEqual(r.replies["body"], "skip", r.stdout)

    def test_several_messages_on_one_connection(self):
        r = self.run_tx(headers=aamp_headers(), messages=3, rcpt_macros={})
        self.assertEqual([r.replies[k] for k in ("eom", "eom#2", "eom#3")], ["continue"] * 3, r.stdout)

    def test_the_same_message_sent_again_is_a_duplicate(self):
        # One Message-ID is delivered once per protected recipient (issue 15): a copy (an MTA
        # retry after a lost 250, a client sending again) is dropped with 250 and audited.
        headers = aamp_headers(task_id="sent-twice", message_id=unique_message_id())
        first = self.run_tx(headers=headers)
        self.assertEqual((first.eom, first.summary["verdict"]), ("continue", "allow"), first.stdout)
        again = self.run_tx(headers=headers)
        self.assertEqual(again.eom, "discard", again.stdout)
        self.assertEqual((again.summary["action"], again.summary["verdict"]), ("discard", "duplicate"), again.summary)
        self.assertEqual(again.message_ids, first.message_ids)
        audit = [a["verdict"] for a in self.milter.db.audit() if a["messageId"] == again.summary["id"]]
        self.assertEqual(audit, ["duplicate"])

    def test_one_summary_line_per_aamp_message(self):
        r = self.run_tx(headers=aamp_headers(task_id="summary-once"), rcpt_macros={"i": "SUMMARY1"})
        self.assertEqual(r.eom, "continue")
        self.milter.wait_log("SUMMARY1:")
        time.sleep(0.2)  # a second line, if there were one, would be written by now
        lines = [l for l in self.milter.log().splitlines() if "SUMMARY1:" in l]
        self.assertEqual(len(lines), 1, lines)
        for field in ("client=client.example.test[192.0.2.9]", "auth=alice@example.test",
                      "envelope-from=<alice@example.test>", "from=alice@example.test",
                      "rcpts=<agent@example.test>:allow", "intent=task.dispatch", "task=summary-once",
                      "verdict=allow", "reason="):
            self.assertIn(field, lines[0])


if __name__ == "__main__":
    unittest.main()
