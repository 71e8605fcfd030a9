"""test_thread_binding — issue 15 through a real Postfix with the real aamp-milter and
aampctl: every AAMP message is bound to its task thread (the registry in the store) and
delivered once.

A stranger's task.result to a local dispatcher is refused while the agent's own is
delivered; a task.cancel from another allowed sender is refused and the dispatcher's
delivered; a follow-up dispatch from the same dispatcher is delivered and a hijacking one
(same TaskId, another allowed dispatcher) refused; a forged pair.respond is refused; a
message sent twice is delivered once; the full SDK-shaped thread passes untouched; report
mode (per mailbox, and globally) refuses nothing and audits report-* verdicts;
`aampctl thread show` shows the thread. One stack per class; each test uses mailboxes of
its own, so that the tests depend neither on each other nor on their order.

Trust comes from SMTP AUTH only (the stack sets no InternalHosts): a message submitted
with a login is from its From; one sent to the plain port is from nobody, whatever its
From claims.
"""

from __future__ import annotations

import datetime
import json
import re
import unittest
from email.message import EmailMessage
from typing import Optional

import aamp_stack as s
import postfix_harness as h


def addr(local: str) -> str:
    return f"{local}@{s.DOMAIN}"


STRANGER = addr("stranger")
UNKNOWN_REASON = "unknown to the registry"  # "task thread T of D is unknown to the registry"


def expires_in(hours: int = 24) -> str:
    at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def reply(sender: str, to: str, intent: str, task_id: str, answering: Optional[EmailMessage] = None,
          fields: Optional[dict[str, str]] = None, body: str = "AAMP end-to-end test\n") -> EmailMessage:
    """An AAMP message in an existing thread (TaskId `task_id`), as the SDK writes it:
    In-Reply-To and References name the message it answers."""
    msg = s.aamp_message(sender, to, intent, task_id=task_id, fields=fields, body=body)
    if answering is not None:
        msg["In-Reply-To"] = answering["Message-ID"]
        msg["References"] = answering["Message-ID"]
    return msg


def result(sender: str, to: str, task_id: str, **kw) -> EmailMessage:
    return reply(sender, to, "task.result", task_id,
                 fields={"Status": "completed", "Output": "42"}, **kw)


def cancel(sender: str, to: str, task_id: str, **kw) -> EmailMessage:
    return reply(sender, to, "task.cancel", task_id, **kw)


def pair_respond(sender: str, to: str, task_id: str, **kw) -> EmailMessage:
    return reply(sender, to, "pair.respond", task_id, fields={"Status": "completed"}, **kw)


def aamp_headers(msg: EmailMessage) -> list[tuple[str, str]]:
    return [(k.lower(), str(v).strip()) for k, v in msg.items() if k.lower().startswith("x-aamp-")]


class ThreadTestCase(s.StackTestCase):
    """Helpers shared by the classes of this file."""

    def delivered(self, mailbox: str, message_id: str, timeout: float = 20.0) -> EmailMessage:
        def find():
            return [m for m in self.pf.messages(mailbox) if m["Message-ID"] == message_id]
        return h.wait_until(find, timeout, f"{message_id} in {mailbox}",
                            detail=self.stack.diagnostics)[0]

    def copies(self, mailbox: str, message_id: str) -> int:
        return len([m for m in self.pf.messages(mailbox, headers_only=True)
                    if m["Message-ID"] == message_id])

    def rows(self, recipient: str, task_id: str) -> list[dict]:
        """The audit rows of `recipient` for `task_id`, oldest first."""
        return [r for r in self.stack.ctl.audit("--mailbox", recipient, "--limit", "0")
                if r.get("taskId") == task_id]

    def verdicts(self, recipient: str, task_id: str) -> list[str]:
        return [r["verdict"] for r in self.rows(recipient, task_id)]

    def mailbox_row(self, address: str) -> dict:
        rows = [m for m in self.stack.ctl.json("mailbox", "list") or [] if m["address"] == address]
        self.assertEqual(len(rows), 1, f"one mailbox row for {address}: {rows}")
        return rows[0]

    def assertBindingRefusal(self, result_: h.SmtpResult, what: str) -> None:
        self.assertRefused(result_, 550, "5.7.1", what)

    def dispatch_to(self, dispatcher: str, agent: str, task_id: Optional[str] = None,
                    **kw) -> EmailMessage:
        """An authenticated task.dispatch from `dispatcher`, asserted delivered."""
        msg = s.dispatch(dispatcher, agent, task_id=task_id, **kw)
        self.assertAccepted(self.submit(dispatcher, agent, msg), f"dispatch {dispatcher} -> {agent}")
        self.delivered(agent, msg["Message-ID"])
        return msg


class ThreadBindingThroughPostfixTest(ThreadTestCase):
    # Protected: the agents, and the local dispatchers that receive replies.
    AGENTS = [addr(n) for n in (
        "disp-result", "agent-cancel", "agent-follow", "agent-hijack", "local-pair",
        "agent-dup", "agent-dup2", "disp-sdk", "agent-sdk", "disp-unknown", "disp-refuse",
        "agent-report", "disp-report", "agent-show")]
    # Plain local mailboxes with logins: dispatchers, agents of no protected mailbox.
    USERS = [STRANGER] + [addr(n) for n in (
        "agent-plain", "disp-cancel-1", "disp-cancel-2", "disp-follow", "disp-hijack-1",
        "disp-hijack-2", "peer-pair", "disp-dup", "disp-report-1", "disp-report-2",
        "agent-report-plain", "disp-show")]

    # -- task.result to a local dispatcher ------------------------------------------------

    def test_strangers_task_result_to_a_local_dispatcher_is_refused_the_agents_delivered(self):
        # The agent is a plain local mailbox (not protected): the thread is known because
        # the dispatcher is local and submitted the dispatch through this MTA.
        disp, agent = addr("disp-result"), addr("agent-plain")
        dispatch = s.dispatch(disp, agent)
        self.assertAccepted(self.submit(disp, agent, dispatch), "the local dispatcher's dispatch")
        self.delivered(agent, dispatch["Message-ID"])
        task = dispatch["X-AAMP-TaskId"]

        forged = result(STRANGER, disp, task, answering=dispatch)
        self.assertBindingRefusal(self.submit(STRANGER, disp, forged),
                                  "task.result from an authenticated stranger")
        spoofed = result(agent, disp, task, answering=dispatch)
        self.assertBindingRefusal(self.pf.send(agent, disp, spoofed),
                                  "task.result claiming the agent's From, no trust basis")
        own = result(agent, disp, task, answering=dispatch)
        self.assertAccepted(self.submit(agent, disp, own), "the agent's own task.result")
        got = self.delivered(disp, own["Message-ID"])
        self.assertEqual(got["X-AAMP-Status"], "completed")
        self.stack.wait_settled()
        self.assertEqual(self.copies(disp, forged["Message-ID"]), 0, "the stranger's result")
        self.assertEqual(self.copies(disp, spoofed["Message-ID"]), 0, "the spoofed result")
        self.assertEqual(self.pf.count(disp), 1, "only the agent's result reached the dispatcher")
        self.assertEqual(self.verdicts(disp, task), ["not-party", "not-party", "allow"],
                         self.rows(disp, task))

    def test_task_result_of_a_thread_the_registry_never_saw_is_delivered_or_refused_per_setting(self):
        # Default UnknownThreads allow: delivered, and the audit says why.
        disp, agent = addr("disp-unknown"), addr("agent-plain")
        task = s.new_task_id()
        msg = result(agent, disp, task)
        self.assertAccepted(self.submit(agent, disp, msg), "task.result of an unknown thread")
        self.delivered(disp, msg["Message-ID"])
        rows = self.rows(disp, task)
        self.assertEqual([r["verdict"] for r in rows], ["allow"], rows)
        self.assertIn(UNKNOWN_REASON, rows[0]["reason"])

        # The mailbox set to refuse them: 550, verdict unknown-thread.
        strict = addr("disp-refuse")
        self.stack.ctl.run("mailbox", "set", strict, "--unknown-threads", "refuse")
        shown = self.mailbox_row(strict)
        self.assertEqual(shown.get("unknownThreads"), "refuse", shown)
        task = s.new_task_id()
        msg = result(agent, strict, task)
        self.assertBindingRefusal(self.submit(agent, strict, msg),
                                  "task.result of an unknown thread, UnknownThreads refuse")
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(strict), 0, "nothing delivered")
        self.assertEqual(self.verdicts(strict, task), ["unknown-thread"], self.rows(strict, task))

    # -- task.cancel ------------------------------------------------------------------------

    def test_cancel_from_another_allowed_sender_is_refused_the_dispatchers_delivered(self):
        agent, d1, d2 = addr("agent-cancel"), addr("disp-cancel-1"), addr("disp-cancel-2")
        self.stack.ctl.allow_sender(agent, d1)
        self.stack.ctl.allow_sender(agent, d2)
        dispatch = self.dispatch_to(d1, agent)
        task = dispatch["X-AAMP-TaskId"]
        other = cancel(d2, agent, task)
        self.assertBindingRefusal(self.submit(d2, agent, other),
                                  "task.cancel from another sender allowed to dispatch")
        own = cancel(d1, agent, task, answering=dispatch)
        self.assertAccepted(self.submit(d1, agent, own), "the dispatcher's own task.cancel")
        self.delivered(agent, own["Message-ID"])
        self.stack.wait_settled()
        self.assertEqual(self.copies(agent, other["Message-ID"]), 0, "the other sender's cancel")
        self.assertEqual(self.pf.count(agent), 2, "the dispatch and the dispatcher's cancel")
        self.assertEqual(self.verdicts(agent, task), ["allow", "not-party", "allow"],
                         self.rows(agent, task))
        refused = self.rows(agent, task)[1]
        self.assertEqual(refused["headerFrom"], d2)
        self.assertIn(task, refused["reason"], "the audit reason names the thread")

    # -- task.dispatch: follow-up and hijack ---------------------------------------------------

    def test_follow_up_dispatch_from_the_same_dispatcher_is_delivered(self):
        agent, disp = addr("agent-follow"), addr("disp-follow")
        self.stack.ctl.allow_sender(agent, disp)
        first = self.dispatch_to(disp, agent)
        task = first["X-AAMP-TaskId"]
        follow = s.dispatch(disp, agent, task_id=task, body="more input for the same task\n")
        follow["In-Reply-To"] = first["Message-ID"]
        self.assertAccepted(self.submit(disp, agent, follow), "follow-up dispatch, same dispatcher")
        got = self.delivered(agent, follow["Message-ID"])
        self.assertEqual(got["X-AAMP-TaskId"], task)
        self.assertEqual(self.verdicts(agent, task), ["allow", "allow"], self.rows(agent, task))

    def test_hijacking_dispatch_from_another_allowed_dispatcher_is_refused(self):
        agent, d1, d2 = addr("agent-hijack"), addr("disp-hijack-1"), addr("disp-hijack-2")
        self.stack.ctl.allow_sender(agent, d1)
        self.stack.ctl.allow_sender(agent, d2)
        first = self.dispatch_to(d1, agent)
        task = first["X-AAMP-TaskId"]
        hijack = s.dispatch(d2, agent, task_id=task)
        self.assertBindingRefusal(self.submit(d2, agent, hijack), "dispatch with another's TaskId")
        # d2 may still dispatch tasks of its own.
        own = self.dispatch_to(d2, agent)
        self.stack.wait_settled()
        self.assertEqual(self.copies(agent, hijack["Message-ID"]), 0, "the hijacking dispatch")
        self.assertEqual(self.pf.count(agent), 2, "d1's dispatch and d2's own")
        self.assertEqual(self.verdicts(agent, task), ["allow", "thread-hijack"], self.rows(agent, task))
        self.assertEqual(self.verdicts(agent, own["X-AAMP-TaskId"]), ["allow"])

    # -- pair.respond ---------------------------------------------------------------------------

    def test_forged_pair_respond_is_refused_the_peers_delivered(self):
        # The local mailbox sends a pair.request to a peer of this domain (not protected,
        # so nothing consumes it); only that peer may answer it.
        local, peer = addr("local-pair"), addr("peer-pair")
        request = s.pair_request(local, peer, "abcd2345")
        self.assertAccepted(self.submit(local, peer, request), "the local mailbox's pair.request")
        self.delivered(peer, request["Message-ID"])
        task = request["X-AAMP-TaskId"]

        forged = pair_respond(STRANGER, local, task, answering=request)
        self.assertBindingRefusal(self.submit(STRANGER, local, forged),
                                  "pair.respond from someone the request was not sent to")
        spoofed = pair_respond(peer, local, task, answering=request)
        self.assertBindingRefusal(self.pf.send(peer, local, spoofed),
                                  "pair.respond claiming the peer's From, no trust basis")
        own = pair_respond(peer, local, task, answering=request)
        self.assertAccepted(self.submit(peer, local, own), "the peer's pair.respond")
        self.delivered(local, own["Message-ID"])
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(local), 1, "only the peer's answer")
        self.assertEqual(self.verdicts(local, task), ["not-party", "not-party", "allow"],
                         self.rows(local, task))

    # -- each message delivered once -----------------------------------------------------------

    def test_message_sent_twice_is_delivered_once(self):
        agent, agent2, disp = addr("agent-dup"), addr("agent-dup2"), addr("disp-dup")
        self.stack.ctl.allow_sender(agent, disp)
        self.stack.ctl.allow_sender(agent2, disp)
        msg = self.dispatch_to(disp, agent)
        task = msg["X-AAMP-TaskId"]
        again = self.submit(disp, agent, msg)  # the same bytes, the same Message-ID
        self.assertAccepted(again, "the second copy (250: discarded, not refused)")
        self.pf.wait_for_log(rf"{again.queue_id}: milter-discard")
        self.stack.wait_settled()
        self.assertEqual(self.copies(agent, msg["Message-ID"]), 1, "delivered once")
        self.assertEqual(self.verdicts(agent, task), ["allow", "duplicate"], self.rows(agent, task))

        # Per recipient: the copy is removed for the recipient that has it and delivered
        # to the one that has not.
        two = s.dispatch(disp, f"{agent}, {agent2}")
        self.assertAccepted(self.submit(disp, agent, two), "first copy, to agent-dup only")
        self.delivered(agent, two["Message-ID"])
        self.assertAccepted(self.submit(disp, [agent, agent2], two), "second copy, to both")
        self.delivered(agent2, two["Message-ID"])
        self.stack.wait_settled()
        self.assertEqual(self.copies(agent, two["Message-ID"]), 1, "agent-dup has it once")
        self.assertEqual(self.copies(agent2, two["Message-ID"]), 1, "agent-dup2 got it")
        task2 = two["X-AAMP-TaskId"]
        self.assertEqual(self.verdicts(agent, task2), ["allow", "duplicate"], self.rows(agent, task2))
        self.assertEqual(self.verdicts(agent2, task2), ["allow"], self.rows(agent2, task2))

    # -- the whole thread, as the SDK writes it ---------------------------------------------------

    def test_full_sdk_shaped_thread_passes_untouched(self):
        disp, agent = addr("disp-sdk"), addr("agent-sdk")
        self.stack.ctl.allow_sender(agent, disp)
        task = s.new_task_id()
        steps = []  # (sender, recipient, message)
        dispatch = s.aamp_message(disp, agent, "task.dispatch", task_id=task, fields={
            "Priority": "normal", "Expires-At": expires_in(), "Dispatch-Context": "project=alpha"},
            body="Summarise the report.\n")
        steps.append((disp, agent, dispatch))
        ack = reply(agent, disp, "task.ack", task, dispatch, body="Working on it.\n")
        steps.append((agent, disp, ack))
        help_needed = reply(agent, disp, "task.help_needed", task, ack, fields={
            "Question": "Which quarter?", "BlockedReason": "the report covers two quarters"},
            body="Which quarter?\n")
        steps.append((agent, disp, help_needed))
        answer = reply(disp, agent, "task.dispatch", task, help_needed,
                       fields={"Priority": "normal"}, body="Q3.\n")
        steps.append((disp, agent, answer))
        done = reply(agent, disp, "task.result", task, answer,
                     fields={"Status": "completed", "Output": "Q3 revenue rose 4%"},
                     body="Q3 revenue rose 4%.\n")
        steps.append((agent, disp, done))

        for sender, to, msg in steps:
            intent = msg["X-AAMP-Intent"]
            self.assertAccepted(self.submit(sender, to, msg), f"{intent} {sender} -> {to}")
            got = self.delivered(to, msg["Message-ID"])
            self.assertEqual(aamp_headers(got), aamp_headers(msg), f"{intent}: X-AAMP-* as sent")
            self.assertEqual(got.get_content(), msg.get_content(), f"{intent}: body as sent")
            self.assertEqual(got["In-Reply-To"], msg["In-Reply-To"], intent)
            verdict = [v for v in self.authres(got)]
            self.assertEqual(len(verdict), 1, got.get_all("Authentication-Results"))
            self.assertRegex(verdict[0], r"\baamp=pass\b", intent)
        self.stack.wait_settled()
        self.assertEqual(self.pf.count(agent), 2, "the dispatch and the answer")
        self.assertEqual(self.pf.count(disp), 3, "ack, help_needed, result")
        rows = self.rows(agent, task) + self.rows(disp, task)
        self.assertEqual({r["verdict"] for r in rows}, {"allow"}, rows)
        self.assertEqual(len(rows), 5, rows)
        self.assertFalse([r for r in rows if UNKNOWN_REASON in (r.get("reason") or "")],
                         "every step is bound to the known thread")

    # -- report mode, per mailbox ----------------------------------------------------------------

    def test_report_mode_mailbox_refuses_nothing_and_audits_report_verdicts(self):
        agent, disp_local = addr("agent-report"), addr("disp-report")
        d1, d2, plain = addr("disp-report-1"), addr("disp-report-2"), addr("agent-report-plain")
        for mailbox in (agent, disp_local):
            self.stack.ctl.run("mailbox", "set", mailbox, "--thread-binding", "report",
                               "--unknown-threads", "refuse")
            shown = self.mailbox_row(mailbox)
            self.assertEqual((shown.get("threadBinding"), shown.get("unknownThreads")),
                             ("report", "refuse"), shown)
        self.stack.ctl.allow_sender(agent, d1)
        self.stack.ctl.allow_sender(agent, d2)

        first = self.dispatch_to(d1, agent)
        task = first["X-AAMP-TaskId"]
        hijack = s.dispatch(d2, agent, task_id=task)
        self.assertAccepted(self.submit(d2, agent, hijack), "hijacking dispatch, report mode")
        self.delivered(agent, hijack["Message-ID"])
        foreign_cancel = cancel(d2, agent, task)
        self.assertAccepted(self.submit(d2, agent, foreign_cancel), "another's cancel, report mode")
        self.delivered(agent, foreign_cancel["Message-ID"])
        self.assertAccepted(self.submit(d1, agent, first), "the dispatch again, report mode")
        self.stack.wait_settled()
        self.assertEqual(self.copies(agent, first["Message-ID"]), 2, "the duplicate is delivered")
        self.assertEqual(self.verdicts(agent, task),
                         ["allow", "report-thread-hijack", "report-not-party", "report-duplicate"],
                         self.rows(agent, task))

        # The local dispatcher in report mode: a stranger's result, and one of an unknown
        # thread (UnknownThreads refuse), are delivered and audited.
        dispatch = s.dispatch(disp_local, plain)
        self.assertAccepted(self.submit(disp_local, plain, dispatch), "local dispatch")
        self.delivered(plain, dispatch["Message-ID"])
        own_task = dispatch["X-AAMP-TaskId"]
        forged = result(STRANGER, disp_local, own_task)
        self.assertAccepted(self.submit(STRANGER, disp_local, forged), "stranger's result, report")
        self.delivered(disp_local, forged["Message-ID"])
        unknown_task = s.new_task_id()
        stray = result(plain, disp_local, unknown_task)
        self.assertAccepted(self.submit(plain, disp_local, stray), "unknown thread, report")
        self.delivered(disp_local, stray["Message-ID"])
        self.assertEqual(self.verdicts(disp_local, own_task), ["report-not-party"],
                         self.rows(disp_local, own_task))
        self.assertEqual(self.verdicts(disp_local, unknown_task), ["report-unknown-thread"],
                         self.rows(disp_local, unknown_task))

    # -- aampctl thread show ----------------------------------------------------------------------

    def test_thread_show_lists_the_registry_entry_and_its_audit_rows(self):
        agent, disp = addr("agent-show"), addr("disp-show")
        self.stack.ctl.allow_sender(agent, disp)
        msg = s.aamp_message(disp, agent, "task.dispatch", fields={
            "Priority": "normal", "Expires-At": expires_in(48)})
        self.assertAccepted(self.submit(disp, agent, msg), "dispatch")
        self.delivered(agent, msg["Message-ID"])
        task = msg["X-AAMP-TaskId"]
        p = self.stack.ctl.run("--json", "thread", "show", task)
        doc = json.loads(p.stdout)
        entries = [e for e in doc.get("threads", doc.get("entries", [])) or []]
        self.assertEqual(len(entries), 1, doc)
        entry = entries[0]
        self.assertEqual((entry.get("kind"), entry.get("initiator"), entry.get("peer")),
                         ("task", disp, agent), entry)
        self.assertTrue(entry.get("created") or entry.get("createdAt"), entry)
        audit = doc.get("audit") or []
        self.assertEqual([(r.get("verdict"), r.get("recipient")) for r in audit],
                         [("allow", agent)], audit)
        text = self.stack.ctl.run("thread", "show", task).stdout
        for word in (disp, agent, "task"):
            self.assertIn(word, text)
        unknown = self.stack.ctl.run("thread", "show", s.new_task_id(), check=False)
        self.assertEqual(unknown.returncode, 1, unknown.stdout + unknown.stderr)


class GlobalReportModeTest(ThreadTestCase):
    """`ThreadBinding report` in the configuration: the same refusals delivered, audited."""

    MILTER_CONFIG = ("ThreadBinding report",)
    AGENTS = [addr(n) for n in ("agent-g", "disp-g")]
    USERS = [STRANGER] + [addr(n) for n in ("disp-g-1", "disp-g-2", "agent-g-plain")]

    def test_global_report_mode_delivers_hijack_and_strangers_result(self):
        agent, d1, d2 = addr("agent-g"), addr("disp-g-1"), addr("disp-g-2")
        self.stack.ctl.allow_sender(agent, d1)
        self.stack.ctl.allow_sender(agent, d2)
        task = self.dispatch_to(d1, agent)["X-AAMP-TaskId"]
        hijack = s.dispatch(d2, agent, task_id=task)
        self.assertAccepted(self.submit(d2, agent, hijack), "hijacking dispatch, global report")
        self.delivered(agent, hijack["Message-ID"])
        self.assertEqual(self.verdicts(agent, task), ["allow", "report-thread-hijack"],
                         self.rows(agent, task))

        disp, plain = addr("disp-g"), addr("agent-g-plain")
        dispatch = s.dispatch(disp, plain)
        self.assertAccepted(self.submit(disp, plain, dispatch), "local dispatch")
        self.delivered(plain, dispatch["Message-ID"])
        own_task = dispatch["X-AAMP-TaskId"]
        forged = result(STRANGER, disp, own_task)
        self.assertAccepted(self.submit(STRANGER, disp, forged), "stranger's result, global report")
        self.delivered(disp, forged["Message-ID"])
        self.assertEqual(self.verdicts(disp, own_task), ["report-not-party"],
                         self.rows(disp, own_task))


if __name__ == "__main__":
    unittest.main()
