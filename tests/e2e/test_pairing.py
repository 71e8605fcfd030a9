"""test_pairing — issue 5 scenarios 1 to 6 through a real Postfix with the real aamp-milter:
refused dispatches, pairing answered with pair.respond, replayed codes, paired dispatch
within and outside the paired rules, lockout, one code raced by eight requesters, and
our own reply passing back through the milter. One stack for the class; each test uses
mailboxes of its own, so the tests do not depend on each other or on their order.
"""

import re
import threading
import unittest

import aamp_stack as s
import postfix_harness as h


def addr(local: str) -> str:
    return f"{local}@{s.DOMAIN}"


RACERS = [addr(f"req-race-{i}") for i in range(1, 9)]


class PairingThroughPostfixTest(s.StackTestCase):
    AGENTS = [addr(n) for n in (
        "agent-deny", "agent-untrusted", "agent-pair", "agent-reuse", "agent-ctx-in",
        "agent-ctx-out", "agent-lock", "agent-race", "agent-loop-a", "agent-loop-b",
        "agent-backscatter", "agent-plain", "agent-multi-yes", "agent-multi-no")]
    USERS = [addr(n) for n in (
        "stranger", "req-pair", "req-reuse", "req-ctx-in", "req-ctx-out", "req-lock",
        "req-backscatter", "multi-sender")] + RACERS

    # -- helpers -----------------------------------------------------------------------

    def request_pairing(self, requester, agent, code, rules=None):
        """Sends a pair.request as `requester` (authenticated); returns (message, result)."""
        msg = s.pair_request(requester, agent, code, rules)
        return msg, self.submit(requester, agent, msg)

    def pair(self, requester, agent, rules=None):
        """A completed pairing, asserted; returns the pair.respond."""
        code = self.stack.ctl.issue_code(agent)
        msg, result = self.request_pairing(requester, agent, code, rules)
        self.assertAccepted(result, f"pair.request {requester} -> {agent}")
        reply = self.stack.wait_reply(requester, msg["X-AAMP-TaskId"])
        self.assertEqual(reply["X-AAMP-Status"], "completed", self.stack.diagnostics())
        return reply

    def delivered(self, mailbox, message_id, timeout=20.0):
        def find():
            return [m for m in self.pf.messages(mailbox) if m["Message-ID"] == message_id]
        return h.wait_until(find, timeout, f"{message_id} in {mailbox}",
                            detail=self.stack.diagnostics)[0]

    def audit_rows(self, recipient):
        return self.stack.ctl.audit("--mailbox", recipient)

    # -- 1. refused dispatches -----------------------------------------------------------

    def test_dispatch_from_an_authenticated_sender_without_rule_is_refused_550(self):
        agent, sender = addr("agent-deny"), addr("stranger")
        result = self.submit(sender, agent, s.dispatch(sender, agent, "project=alpha"))
        self.assertRefused(result, 550, "5.7.1", "dispatch from a sender no rule allows")
        self.assertIn(sender, result.text, "the reply names the refused sender")
        self.assertRegex(result.text, r"may not send task\.dispatch")
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(agent), 0, "nothing delivered")
        self.assertEqual([r["verdict"] for r in self.audit_rows(agent)], ["deny"])

    def test_dispatch_from_an_unauthenticated_sender_is_refused_550(self):
        agent, sender = addr("agent-untrusted"), "bob@other.test"
        result = self.pf.send(sender, agent, s.dispatch(sender, agent))
        self.assertRefused(result, 550, "5.7.1", "unauthenticated dispatch")
        self.assertIn(f"sender {sender} is not authenticated", result.text)
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(agent), 0, "nothing delivered")
        self.assertEqual([r["verdict"] for r in self.audit_rows(agent)], ["untrusted"])

    def test_dispatch_to_two_agents_is_delivered_only_to_the_one_that_allows_it(self):
        yes, no, sender = addr("agent-multi-yes"), addr("agent-multi-no"), addr("multi-sender")
        self.stack.ctl.allow_sender(yes, sender)
        msg = s.dispatch(sender, f"{yes}, {no}", "project=alpha")
        result = self.submit(sender, [yes, no], msg)
        self.assertAccepted(result, "dispatch allowed by one of two protected recipients")
        got = self.delivered(yes, msg["Message-ID"])
        self.assertEqual(len(self.authres(got)), 1, got.get_all("Authentication-Results"))
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(no), 0, "the refusing recipient was removed")
        self.assertEqual([r["verdict"] for r in self.audit_rows(no)], ["deny"])

    # -- 2. a valid pair.request -----------------------------------------------------------

    def test_valid_pair_request_is_answered_completed_in_the_requesters_maildir(self):
        agent, requester = addr("agent-pair"), addr("req-pair")
        code = self.stack.ctl.issue_code(agent)
        request, result = self.request_pairing(requester, agent, code)
        self.assertAccepted(result, "pair.request with a valid code")
        reply = self.stack.wait_reply(requester, request["X-AAMP-TaskId"])
        self.assertEqual(reply["X-AAMP-Version"], "1.1")
        self.assertEqual(reply["X-AAMP-Intent"], "pair.respond")
        self.assertEqual(reply["X-AAMP-Status"], "completed")
        self.assertEqual(reply["X-AAMP-TaskId"], request["X-AAMP-TaskId"])
        self.assertEqual(reply["In-Reply-To"], request["Message-ID"])
        self.assertIn(request["Message-ID"], reply["References"])
        self.assertEqual(reply["From"].addresses[0].addr_spec, agent)
        self.assertEqual(reply["To"].addresses[0].addr_spec, requester)
        self.assertEqual(reply["Auto-Submitted"], "auto-replied")
        self.assertEqual(reply["Subject"], "[AAMP Pair] completed")
        self.assertIsNone(reply["X-AAMP-ErrorMsg"])
        self.assertNotIn(code, reply.as_string(), "the reply never repeats the code")

    def test_valid_pair_request_is_consumed_at_the_mta(self):
        agent, requester = addr("agent-pair"), addr("req-pair")
        code = self.stack.ctl.issue_code(agent)
        request, result = self.request_pairing(requester, agent, code)
        self.assertAccepted(result, "pair.request with a valid code")
        self.stack.wait_reply(requester, request["X-AAMP-TaskId"])
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(agent), 0, "the agent's Maildir must not get the request")
        self.pf.wait_for_log(rf"{result.queue_id}: milter-discard")
        rows = [r for r in self.audit_rows(agent) if r.get("taskId") == request["X-AAMP-TaskId"]]
        self.assertEqual([r["verdict"] for r in rows], ["pair-completed"])
        self.assertNotIn(code, str(rows), "the audit never holds the code")

    # -- 3. the same code again --------------------------------------------------------------

    def test_reused_code_is_answered_rejected_already_used(self):
        agent, requester = addr("agent-reuse"), addr("req-reuse")
        code = self.stack.ctl.issue_code(agent)
        first, result = self.request_pairing(requester, agent, code)
        self.assertAccepted(result, "first pair.request")
        self.assertEqual(self.stack.wait_reply(requester, first["X-AAMP-TaskId"])["X-AAMP-Status"],
                         "completed")
        again, result = self.request_pairing(requester, agent, code)
        self.assertAccepted(result, "second pair.request with the same code")
        reply = self.stack.wait_reply(requester, again["X-AAMP-TaskId"])
        self.assertEqual(reply["X-AAMP-Status"], "rejected")
        self.assertEqual(reply["In-Reply-To"], again["Message-ID"])
        self.assertEqual(reply["Subject"], "[AAMP Pair] rejected")
        self.assertRegex(reply["X-AAMP-ErrorMsg"] or "", r"(?i)already used")
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(agent), 0, "neither request reaches the agent")

    # -- 4. dispatch from a paired sender --------------------------------------------------------

    def test_paired_sender_dispatch_with_matching_context_is_delivered_with_verdict(self):
        agent, requester = addr("agent-ctx-in"), addr("req-ctx-in")
        before = self.submit(requester, agent, s.dispatch(requester, agent, "project=alpha"))
        self.assertRefused(before, 550, "5.7.1", "dispatch before pairing")
        self.pair(requester, agent, rules={"project": ["alpha"]})
        msg = s.dispatch(requester, agent, "project=alpha; stage=dev")
        result = self.submit(requester, agent, msg)
        self.assertAccepted(result, "dispatch from the paired sender with matching context")
        got = self.delivered(agent, msg["Message-ID"])
        verdicts = self.authres(got)
        self.assertEqual(len(verdicts), 1, f"one verdict header of ours: {got.get_all('Authentication-Results')}")
        self.assertRegex(verdicts[0], r"\baamp=pass\b")
        self.assertRegex(verdicts[0], r"policy\.origin=paired")
        self.assertEqual(got["X-AAMP-TaskId"], msg["X-AAMP-TaskId"])

    def test_paired_sender_dispatch_outside_the_paired_rules_is_refused_550(self):
        agent, requester = addr("agent-ctx-out"), addr("req-ctx-out")
        self.pair(requester, agent, rules={"project": ["alpha"]})
        for label, context in (("other value", "project=beta"), ("key missing", "stage=dev"),
                               ("no context", None)):
            with self.subTest(label):
                result = self.submit(requester, agent, s.dispatch(requester, agent, context))
                self.assertRefused(result, 550, "5.7.1", f"dispatch with context {context!r}")
                self.assertRegex(result.text, r"dispatch context")
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(agent), 0, "nothing delivered")

    # -- 5. lockout ----------------------------------------------------------------------------------

    def test_six_wrong_codes_lock_pairing_out_and_are_audited(self):
        agent, requester = addr("agent-lock"), addr("req-lock")
        results = []
        for i in range(6):
            _, result = self.request_pairing(requester, agent, f"wrong{i:03d}")
            results.append(result)
        for i, result in enumerate(results[:5]):
            self.assertAccepted(result, f"wrong code #{i + 1} (answered by mail)")
        self.assertRefused(results[5], 550, "5.7.1", "the sixth wrong code")
        self.assertRegex(results[5].text, r"too many failed pairing attempts")
        # Locked out: even a valid code is refused now, and it stays unused.
        code = self.stack.ctl.issue_code(agent)
        _, result = self.request_pairing(requester, agent, code)
        self.assertRefused(result, 550, "5.7.1", "a valid code during the lockout")
        self.stack.wait_settled()
        replies = self.stack.replies(requester)
        self.assertEqual(len(replies), 5, "one rejected reply per wrong code, none when locked")
        self.assertEqual({r["X-AAMP-Status"] for r in replies}, {"rejected"})
        verdicts = [r["verdict"] for r in self.audit_rows(agent)]
        self.assertEqual(verdicts[:5], ["pair-rejected"] * 5, verdicts)
        self.assertEqual(verdicts[5:], ["pair-locked"] * 2, verdicts)
        self.assertNotIn("completed", {r["X-AAMP-Status"] for r in replies})

    # -- 6. one code, eight concurrent requesters -----------------------------------------------------

    def test_eight_concurrent_requests_with_one_code_complete_exactly_once(self):
        agent = addr("agent-race")
        code = self.stack.ctl.issue_code(agent)
        requests = {r: s.pair_request(r, agent, code) for r in RACERS}
        results = {}
        barrier = threading.Barrier(len(RACERS))

        def race(requester):
            barrier.wait(timeout=30)
            results[requester] = self.submit(requester, agent, requests[requester])

        threads = [threading.Thread(target=race, args=(r,), name=r) for r in RACERS]
        for t in threads:
            t.start()
        h.join_all(threads, timeout=60)
        for r, result in results.items():
            if not (result.accepted or (result.code == 550 and result.text.startswith("5.7.1"))):
                self.fail_with_logs(f"{r}: neither accepted nor locked out: {result}")
        self.stack.wait_settled()
        statuses = {}
        for r in RACERS:
            replies = self.stack.replies(r, requests[r]["X-AAMP-TaskId"])
            self.assertLessEqual(len(replies), 1, f"{r} got {len(replies)} replies")
            self.assertEqual(len(replies), 1 if results[r].accepted else 0,
                             f"{r}: a reply exactly when the request was accepted ({results[r]})")
            if replies:
                statuses[r] = replies[0]["X-AAMP-Status"]
        winners = [r for r, st in statuses.items() if st == "completed"]
        self.assertEqual(len(winners), 1, f"exactly one completed: {statuses}")
        audit = [r["verdict"] for r in self.audit_rows(agent)]
        self.assertEqual(audit.count("pair-completed"), 1, audit)
        self.assertEqual(len(audit), len(RACERS), audit)

    # -- loops and backscatter -------------------------------------------------------------------------

    def test_our_pair_respond_passing_back_through_the_milter_is_delivered_not_answered(self):
        # B is itself a protected agent mailbox: A's reply to B passes non_smtpd_milters
        # with a protected recipient, the case where a loop would start.
        a, b = addr("agent-loop-a"), addr("agent-loop-b")
        code = self.stack.ctl.issue_code(a)
        request, result = self.request_pairing(b, a, code)
        self.assertAccepted(result, "agent B's pair.request to agent A")
        reply = self.stack.wait_reply(b, request["X-AAMP-TaskId"])
        self.assertEqual(reply["X-AAMP-Status"], "completed")
        self.stack.wait_settled()
        qid = self.pf.wait_for_log(rf"cleanup\[\d+\]: (\w+): message-id={re.escape(reply['Message-ID'])}").group(1)
        self.assertNotRegex(self.pf.log_text(), rf"{qid}: milter-(reject|discard|hold)",
                            "the milter must not block our own reply")
        self.assertEqual(self.pf.count(a), 0, "nothing went back to A")
        self.assertEqual(len(self.stack.replies(b)), 1)
        self.assertEqual([(r["from_addr"], r["to_addr"]) for r in self.stack.outbox()
                          if a in (r["from_addr"], r["to_addr"]) or b in (r["from_addr"], r["to_addr"])],
                         [(a, b)], "one reply queued, none answering it")
        self.assertFalse([r for r in self.audit_rows(b) if str(r.get("verdict", "")).startswith("pair-")],
                         "the reply is not treated as a pairing")

    def test_pair_request_from_an_unauthenticated_sender_is_refused_without_reply(self):
        agent, forged = addr("agent-backscatter"), addr("req-backscatter")
        code = self.stack.ctl.issue_code(agent)
        request = s.pair_request(forged, agent, code)
        result = self.pf.send(forged, agent, request)  # plain port: no AUTH
        self.assertRefused(result, 550, "5.7.1", "unauthenticated pair.request")
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(forged), 0, "no backscatter to a forged sender")
        # The refused request did not burn the code: its owner can still use it.
        retry, result = self.request_pairing(forged, agent, code)
        self.assertAccepted(result, "the same code, now authenticated")
        self.assertEqual(self.stack.wait_reply(forged, retry["X-AAMP-TaskId"])["X-AAMP-Status"],
                         "completed")

    def test_mail_without_aamp_headers_passes_untouched_and_forged_verdicts_are_removed(self):
        agent = addr("agent-plain")
        msg = h.make_message("bob@other.test", agent, "hello, no AAMP here",
                             headers={"Authentication-Results": f"{s.AUTHSERV_ID}; aamp=pass"})
        result = self.pf.send("bob@other.test", agent, msg)
        self.assertAccepted(result, "non-AAMP mail")
        got = self.delivered(agent, msg["Message-ID"])
        self.assertEqual(self.authres(got), [], "a verdict claiming our authserv-id is removed")
        self.assertEqual(got["Subject"], "hello, no AAMP here")


if __name__ == "__main__":
    unittest.main()
