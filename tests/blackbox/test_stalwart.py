"""test_stalwart — the real aamp-milter behind a faithful Stalwart 0.16.19 (stalwart_emulator.py):
first the emulator's own rules (how Stalwart applies a filter's changes, what it does on a
timeout, an error or a SKIP outside the body), then the pairing scenarios end to end, each
with the milter at stage `data` (as docs/operations.md configures it) and again with stages
`rcpt` and `data` both configured. What is asserted is what Stalwart would queue: the reply
to the client, the recipients, the header block, and whether the message was queued,
dropped or stored unscheduled. Threads: ScriptedFilter serves on one thread of its own;
everything else runs on the test's thread.
"""

import json
import os
import socket
import sqlite3
import struct
import threading
import unittest
from pathlib import Path

from milter_harness import database_removed, PATIENCE, Milter, free_port, wait_until
from stalwart_emulator import (CHUNK, DAEMON_NAME, REPLY_DISCARD, REPLY_TEMPFAIL, MilterSettings, Stalwart,
                               Transaction, apply_modifications, build_message, parse_header_block)

DROP_SENDMAIL = "#!/bin/sh\ncat > /dev/null\n"  # the reply worker's transport: accepts and forgets

FIXTURE = (b"Received: from a\r\n\tby b\r\nX-Tag: one\r\nSubject: hi\r\nX-Tag: two\r\n"
           b"To: Agent <agent@example.test>\r\n\r\nbody\r\n")


def x_sender(x) -> str:
    """The address of the MAIL command an exchange sent."""
    return x.payloads("M")[0].rstrip(b"\0").decode()[1:-1]


def names(message: bytes) -> list[str]:
    return [n.decode() for n, _ in parse_header_block(message)[0]]


class ApplyRules(unittest.TestCase):
    """apply_milter_modifications (message.rs:340-520) on a fixture."""

    def test_addheader_goes_to_the_top_in_order(self):
        msg, _ = apply_modifications(FIXTURE, [], [("addheader", "A", "1"), ("addheader", "B", "2")])
        self.assertEqual(names(msg)[:3], ["A", "B", "Received"])
        self.assertTrue(msg.endswith(FIXTURE), "the block as received follows, untouched")

    def test_insheader_index_0_is_the_top_and_rewrites(self):
        msg, _ = apply_modifications(FIXTURE, [], [("insheader", 0, "A", "1"), ("insheader", 0, "B", "2")])
        self.assertEqual(names(msg)[:3], ["B", "A", "Received"])  # each at the top: reverse order
        self.assertIn(b"Received: from a\r\n\tby b\r\n", msg, "folds of untouched fields kept")

    def test_insheader_index_counts_per_name(self):
        msg, _ = apply_modifications(FIXTURE, [], [("insheader", 2, "X-Tag", "new")])
        self.assertEqual(names(msg), ["Received", "X-Tag", "Subject", "X-Tag", "X-Tag", "To"])
        self.assertEqual(parse_header_block(msg)[0][3], (b"X-Tag", b" new\r\n"))
        msg, _ = apply_modifications(FIXTURE, [], [("insheader", 5, "Nothing", "x")])
        self.assertEqual(names(msg)[0], "Nothing", "no field of that name: the top")

    def test_chgheader_counts_from_1_per_name_and_empty_deletes(self):
        msg, _ = apply_modifications(FIXTURE, [], [("chgheader", 2, "x-tag", "changed")])
        self.assertIn(b"X-Tag: one\r\n", msg)
        self.assertIn(b"X-Tag: changed\r\n", msg)
        msg, _ = apply_modifications(FIXTURE, [], [("chgheader", 1, "X-Tag", "")])
        self.assertEqual(names(msg), ["Received", "Subject", "X-Tag", "To"])
        self.assertIn(b"X-Tag: two\r\n", msg)
        # Removing 1 then 2 renumbers between the two: the second finds nothing.
        msg, _ = apply_modifications(FIXTURE, [], [("chgheader", 1, "X-Tag", ""), ("chgheader", 2, "X-Tag", "")])
        self.assertEqual(names(msg).count("X-Tag"), 1)
        # A change of a field that does not exist adds it at the top.
        msg, _ = apply_modifications(FIXTURE, [], [("chgheader", 1, "X-New", "v")])
        self.assertEqual(names(msg)[0], "X-New")

    def test_quarantine_is_a_header_and_delivery(self):
        msg, rcpts = apply_modifications(FIXTURE, ["a@x.test"], [("quarantine", "held")])
        self.assertTrue(msg.startswith(b"X-Quarantine: held\r\n"))
        self.assertEqual(rcpts, ["a@x.test"])

    def test_delrcpt_matches_the_lowercased_address_exactly(self):
        rcpts = ["agent@example.test", "human@example.test"]
        self.assertEqual(apply_modifications(FIXTURE, rcpts, [("delrcpt", "<agent@example.test>")])[1],
                         ["human@example.test"])
        self.assertEqual(apply_modifications(FIXTURE, rcpts, [("delrcpt", "<Agent@Example.TEST>")])[1], rcpts)


class ScriptedFilter:
    """A stand-in filter on 127.0.0.1 for the emulator's error paths: answers negotiation with
    `steps`, then `answer(cmd)` per command: a frame, a list of frames, or None (silence). One thread, bounded by the
    test's own timeouts; closed at cleanup."""

    def __init__(self, answer, steps: int = 0):
        self.answer, self.steps = answer, steps
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(PATIENCE)
        self.port = self.srv.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            while True:
                conn, _ = self.srv.accept()
                self.connections += 1
                with conn:
                    conn.settimeout(PATIENCE)
                    self._talk(conn)
        except OSError:
            return

    def _talk(self, conn):
        buf = b""
        while True:
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            n = struct.unpack(">I", buf[:4])[0]
            cmd, buf = chr(buf[4]), buf[4 + n:]
            if cmd == "O":
                reply = b"O" + struct.pack(">III", 6, 0xFF, self.steps)
            elif cmd in "DQ":
                continue
            else:
                reply = self.answer(cmd)
                if reply is None:
                    continue
            for frame in reply if isinstance(reply, list) else [reply]:
                conn.sendall(struct.pack(">I", len(frame)) + frame)

    def close(self):
        self.srv.close()


class ClientRules(unittest.TestCase):
    """What Stalwart does with a filter that errs, times out or answers SKIP/ACCEPT."""

    def stalwart(self, answer, steps=0, **settings) -> tuple[Stalwart, ScriptedFilter]:
        f = ScriptedFilter(answer, steps)
        self.addCleanup(f.close)
        return Stalwart(MilterSettings(port=f.port, **settings)), f

    def test_unreachable_filter(self):
        port = free_port()  # nothing listens there
        self.assertEqual(Stalwart(MilterSettings(port=port)).send(Transaction()).data_reply, REPLY_TEMPFAIL)
        out = Stalwart(MilterSettings(port=port, tempfail_on_error=False)).send(Transaction())
        self.assertEqual(out.fate, "queued", "without tempFailOnError the filter is skipped")
        self.assertEqual(out.message, Transaction().message)

    def test_timeout_data_bounds_each_wait(self):
        st, _ = self.stalwart(lambda cmd: None, timeout_data=0.3)  # never answers after negotiation
        out = st.send(Transaction())
        self.assertEqual(out.data_reply, REPLY_TEMPFAIL)
        self.assertEqual(out.exchanges[-1].error, "timeout")

    def test_skip_outside_the_body_is_an_error(self):
        st, _ = self.stalwart(lambda cmd: b"s" if cmd == "L" else b"c")
        self.assertEqual(st.send(Transaction()).data_reply, REPLY_TEMPFAIL)

    def test_skip_in_the_body_ends_the_chunks_and_accept_continues(self):
        st, _ = self.stalwart(lambda cmd: {"B": b"s", "N": b"a"}.get(cmd, b"c"))
        big = build_message([("From", "a@x.test")], "x" * (3 * CHUNK))
        out = st.send(Transaction(message=big))
        self.assertEqual(out.fate, "queued", out.exchanges)
        sent = out.exchanges[-1].commands()
        self.assertEqual(sent.count("B"), 1, "SKIP honoured in the body loop")
        self.assertIn("NB", sent.replace("D", ""), "ACCEPT at EOH: Stalwart goes on sending")

    def test_reject_without_reply_code(self):
        st, _ = self.stalwart(lambda cmd: b"r" if cmd == "E" else b"c")
        self.assertEqual(st.send(Transaction()).data_reply, "503 5.5.3 Message rejected.\r\n")

    def test_reply_code_is_verbatim(self):
        st, _ = self.stalwart(lambda cmd: b"y550 5.7.1 100%% sure\0" if cmd == "E" else b"c")
        self.assertEqual(st.send(Transaction()).data_reply, "550 5.7.1 100%% sure\r\n")

    def test_accept_is_continue_at_every_step(self):
        st, _ = self.stalwart(lambda cmd: b"a")
        out = st.send(Transaction())
        self.assertEqual(out.fate, "queued")
        self.assertEqual(out.exchanges[-1].commands(), "ODCDHDMDRTLLNBEQ")

    def test_header_fields_as_sent(self):
        st, _ = self.stalwart(lambda cmd: b"c")
        msg = (b"X-\xffName: v\r\nSubject:  caf\xc3\xa9\r\n  au lait \r\nX-Bin: a\xe9b\r\nFrom : a@x.test\r\n"
               b"\r\nbody\r\n")
        out = st.send(Transaction(message=msg))
        self.assertEqual(out.exchanges[-1].payloads("L"),
                         [b"\0v\0", "Subject\0café\r\n  au lait\0".encode(), b"X-Bin\0\0", b"From\0a@x.test\0"])
        self.assertEqual(out.message, msg, "no change asked: the message as received")

    def test_tempfail_without_reply_code(self):
        st, _ = self.stalwart(lambda cmd: b"t" if cmd == "E" else b"c")
        out = st.send(Transaction())
        self.assertEqual((out.data_reply, out.fate), ("451 4.3.5 Unable to accept message at this time.\r\n", "refused"))

    def test_discard_drops_and_zero_recipients_are_stored_unscheduled(self):
        st, _ = self.stalwart(lambda cmd: b"d" if cmd == "E" else b"c")
        self.assertEqual(st.send(Transaction()).fate, "dropped")
        st, _ = self.stalwart(lambda cmd: [b"-<agent@example.test>\0", b"c"] if cmd == "E" else b"c")
        out = st.send(Transaction())
        self.assertEqual((out.fate, out.recipients), ("unscheduled", []))
        self.assertTrue(out.data_reply.startswith("250 2.0.0 Message queued with id"))

    def test_the_step_flags_the_filter_returns_are_used(self):
        # NOHELO and NR_HDR returned (not offered): no HELO, headers sent without waiting.
        st, _ = self.stalwart(lambda cmd: None if cmd == "L" else b"c", steps=0x02 | 0x80)
        out = st.send(Transaction())
        self.assertEqual(out.fate, "queued")
        self.assertEqual(out.exchanges[-1].commands(), "ODCDMDRTLLNBEQ")

    def test_a_frame_that_is_not_utf8_is_an_error(self):
        st, _ = self.stalwart(lambda cmd: [b"hX-Bad\0\xff\0", b"c"] if cmd == "E" else b"c")
        self.assertEqual(st.send(Transaction()).data_reply, REPLY_TEMPFAIL)

    def test_earlier_stages(self):
        st, f = self.stalwart(lambda cmd: b"c", stages=("connect", "ehlo", "mail"))
        out = st.send(Transaction(client_ptr=None))
        self.assertEqual([x.commands() for x in out.exchanges], ["ODCDHQ", "ODCDHQ", "ODCDHDMQ"])
        connect = out.exchanges[0]
        self.assertEqual(connect.macros("C")["j"], "", "the hostname is set after the connect stage")
        self.assertEqual(connect.macros("C")["{client_ptr}"], "unknown")
        self.assertEqual(connect.payloads("H"), [b"\0"], "no HELO yet at connect")
        self.assertEqual(out.exchanges[1].payloads("C")[0].split(b"\0")[0], b"client.example.test")
        self.assertEqual(out.exchanges[1].macros("C")["j"], "mx.example.test")
        self.assertEqual(out.fate, "queued")

    def test_refused_rcpt_is_dropped_from_the_envelope(self):
        calls = []

        def answer(cmd):
            calls.append(cmd)
            return b"y550 5.1.1 no such user\0" if cmd == "R" and calls.count("R") == 2 else b"c"
        st, _ = self.stalwart(answer, stages=("rcpt", "data"))
        out = st.send(Transaction(rcpts=["a@x.test", "b@x.test", "c@x.test"]))
        self.assertEqual(out.replies["rcpt b@x.test"], "550 5.1.1 no such user\r\n")
        self.assertEqual(out.recipients, ["a@x.test", "c@x.test"])
        self.assertEqual(out.exchanges[2].payloads("R"), [b"<a@x.test>\0", b"<c@x.test>\0"])

    def test_must_match_sender(self):
        st, _ = self.stalwart(lambda cmd: b"c")
        out = st.send(Transaction(mail_from="", auth_login="alice@example.test"))
        self.assertEqual((out.fate, out.replies["mail"]), ("refused", "501 5.5.4 You are not allowed to send from this address.\r\n"))
        self.assertEqual(st.send(Transaction(mail_from="Alice@Example.test", auth_login="alice@example.test")).fate, "queued")
        self.assertEqual(Stalwart(st.settings, must_match_sender=False).send(
            Transaction(mail_from="", auth_login="alice@example.test")).fate, "queued")

    def test_a_connection_per_stage_call(self):
        st, f = self.stalwart(lambda cmd: b"c", stages=("rcpt", "data"))
        out = st.send(Transaction(rcpts=["a@x.test", "B@X.test"]))
        self.assertEqual(f.connections, 3)
        self.assertEqual([x.stage for x in out.exchanges], ["rcpt", "rcpt", "data"])
        self.assertEqual(out.exchanges[1].payloads("R"), [b"<a@x.test>\0", b"<b@x.test>\0"])
        self.assertEqual(out.recipients, ["a@x.test", "b@x.test"])


ALICE = "alice@example.test"
BOB = "bob@partner.test"


def aamp_message(intent="task.dispatch", task_id="t-1", sender="Alice <alice@example.test>",
                 to="agent@example.test", extra=(), body="please do the work\r\n") -> bytes:
    return build_message([("From", sender), ("To", to), ("Subject", "work for you"),
                          ("Message-ID", f"<{task_id}@example.test>"), ("X-AAMP-Version", "1.1"),
                          ("X-AAMP-Intent", intent), ("X-AAMP-TaskId", task_id), *extra], body)


class Scenarios:
    """The pairing scenarios through Stalwart; a subclass says which stages the milter runs at."""
    STAGES: tuple = ("data",)

    @classmethod
    def setUpClass(cls):
        cls.milter = m = Milter()
        cls.addClassCleanup(m.close)
        sendmail = m.root / "sendmail"
        sendmail.write_text(DROP_SENDMAIL)
        sendmail.chmod(0o755)
        m.write_config(m.config_text + f"ReplyTransport sendmail:{sendmail}\n")
        m.start()
        m.db.add_mailbox("agent@example.test")
        m.db.allow("agent@example.test", ALICE)
        m.db.add_mailbox("agent2@example.test")       # nobody may dispatch to it
        m.db.add_mailbox("reporter@example.test", mode="report")
        cls.stalwart = Stalwart(MilterSettings(port=m.port, stages=cls.STAGES, timeout_data=PATIENCE,
                                               timeout_command=PATIENCE))
        cls.tag = "-".join(cls.STAGES)

    def send(self, **kw):
        self.auth_macro = {"{auth_authen}": kw["auth_login"]} if kw.get("auth_login") else {}
        out = self.stalwart.send(Transaction(**kw))
        self.check_connections(out, kw.get("rcpts", ["agent@example.test"]))
        return out

    def check_connections(self, out, rcpts):
        # One connection per RCPT at stage rcpt, each replaying the envelope so far; one at data.
        want = (["rcpt"] * len(rcpts) if "rcpt" in self.STAGES else []) + ["data"]
        self.assertEqual([x.stage for x in out.exchanges], want, [x.error for x in out.exchanges])
        for n, x in enumerate(out.exchanges[:-1]):
            self.assertEqual(x.commands(), "O" + "DCDHDM" + "DR" * (n + 1) + "Q")
        for x in out.exchanges:
            self.assertEqual(x.sent[0], ("O", struct.pack(">III", 6, 0xFF, 0x42)))
            self.assertEqual(x.negotiated_protocol, 0, "the filter asks for no step flags under 0x42")
            self.assertEqual(x.macros("M"), {"{mail_addr}": x_sender(x)} | self.auth_macro)
            for cmd in "CHMR":
                self.assertFalse({"i", "{auth_type}", "_"} & set(x.macros(cmd)), x.sent)
        data = out.exchanges[-1]
        self.assertEqual(data.macros("C"), {"{daemon_name}": DAEMON_NAME, "j": "mx.example.test",
                                            "{client_addr}": "192.0.2.9", "{client_port}": "50123",
                                            "{client_ptr}": "client.example.test"})
        self.assertEqual(data.macros("H"), {"{cipher}": "", "{tls_version}": ""})
        self.assertNotIn("i", data.macros("R"))

    def task(self, what: str) -> str:
        return f"{what}-{self.tag}"

    def summary(self, task_id: str) -> dict:
        return self.milter.summary(f"task={task_id} ")

    def outbox(self, task_id: str) -> list[tuple]:
        def rows():
            c = sqlite3.connect(f"file:{self.milter.database}?mode=ro", uri=True, timeout=5)
            try:
                return c.execute("SELECT from_addr, to_addr, status FROM outbox WHERE task_id = ?", (task_id,)).fetchall()
            finally:
                c.close()
        return rows()

    def issue_code(self, mailbox="agent@example.test") -> str:
        return json.loads(self.milter.db.ctl("--json", "pair", "issue", "--mailbox", mailbox, "--ttl", "5m"))["code"]

    def test_pair_request_to_its_sole_recipient_is_dropped(self):
        code, task = self.issue_code(), self.task("pair-sole")
        out = self.send(mail_from=BOB, auth_login=BOB, message=aamp_message(
            "pair.request", task, f"Bob <{BOB}>", extra=[("X-AAMP-Pair-Code", code)]))
        # DISCARD: 250 to the client, nothing queued (not an emptied message left unscheduled).
        self.assertEqual((out.data_reply, out.fate), (REPLY_DISCARD, "dropped"), out.exchanges)
        self.assertEqual(self.summary(task)["verdict"], "pair-completed")
        self.assertEqual(self.outbox(task), [("agent@example.test", BOB, "completed")])

        # Bob is paired: his dispatch is delivered with our verdict at the top.
        out = self.send(mail_from=BOB, auth_login=BOB, message=aamp_message(
            task_id=self.task("after-pairing"), sender=BOB))
        self.assertEqual((out.fate, out.recipients), ("queued", ["agent@example.test"]))
        self.assertEqual(out.headers[0][0], "Authentication-Results")
        self.assertTrue(out.headers[0][1].startswith("mx.example.test; aamp=pass"), out.headers[0])

    def test_pair_request_only_its_recipient_is_removed(self):
        code, task = self.issue_code(), self.task("pair-shared")
        out = self.send(mail_from=BOB, auth_login=BOB, rcpts=["agent@example.test", "human@example.test"],
                        message=aamp_message("pair.request", task, BOB, extra=[("X-AAMP-Pair-Code", code)]))
        self.assertEqual((out.fate, out.recipients), ("queued", ["human@example.test"]), out.modifications)
        self.assertTrue(out.data_reply.startswith("250 2.0.0 Message queued with id"))
        self.assertEqual(self.summary(task)["verdict"], "pair-completed")
        self.assertEqual(self.outbox(task), [("agent@example.test", BOB, "completed")])

    def test_dispatch_allowed(self):
        out = self.send(mail_from=ALICE, auth_login=ALICE, rcpts=["agent@example.test", "human@example.test"],
                        message=aamp_message(task_id=self.task("allowed")))
        self.assertEqual((out.fate, out.recipients), ("queued", ["agent@example.test", "human@example.test"]))
        ar = out.header_values("Authentication-Results")
        self.assertEqual(len(ar), 1, out.headers)
        self.assertIn("aamp=pass", ar[0])
        self.assertIn("policy.rcpt=agent@example.test", ar[0])
        self.assertEqual(out.headers[0][0], "Authentication-Results", "at the top of the block")
        self.assertIn(b"please do the work", out.message)

    def test_dispatch_refused(self):
        out = self.send(mail_from="mallory@example.test", auth_login="mallory@example.test",
                        message=aamp_message(task_id=self.task("refused"), sender="mallory@example.test"))
        self.assertEqual(out.fate, "refused")
        self.assertRegex(out.data_reply, r"^550 5\.7\.1 [^%\r\n]+\r\n$")
        self.assertEqual(self.summary(self.task("refused"))["reply"], "550/5.7.1")

    def test_two_agents_in_one_message(self):
        # alice may dispatch to agent@ but not to agent2@: agent2@ is removed, the rest queued.
        task = self.task("two-agents")
        out = self.send(mail_from=ALICE, auth_login=ALICE,
                        rcpts=["agent@example.test", "Agent2@Example.TEST", "human@example.test"],
                        message=aamp_message(task_id=task))
        self.assertEqual((out.fate, out.recipients), ("queued", ["agent@example.test", "human@example.test"]),
                         out.modifications)
        ar = out.header_values("Authentication-Results")
        self.assertEqual(len(ar), 1, out.headers)
        self.assertIn("policy.rcpt=agent@example.test", ar[0])
        self.assertNotIn("agent2", ar[0])

    def test_report_mode_delivers_what_it_would_refuse(self):
        task = self.task("report")
        out = self.send(mail_from="mallory@example.test", auth_login="mallory@example.test",
                        rcpts=["reporter@example.test"],
                        message=aamp_message(task_id=task, sender="mallory@example.test", to="reporter@example.test"))
        self.assertEqual((out.fate, out.recipients), ("queued", ["reporter@example.test"]))
        ar = out.header_values("Authentication-Results")
        self.assertEqual(len(ar), 1, out.headers)
        self.assertIn("aamp=fail", ar[0])
        self.assertEqual(self.summary(task)["verdict"], "report-deny")

    def test_forged_verdict_with_an_8bit_byte_arrives_blank_and_is_removed(self):
        forged = b"mx.example.test\xff; aamp=pass policy.rule=99"
        msg = build_message([("Authentication-Results", "mx.upstream.test; spf=pass"), ("From", "bob@example.test"),
                             ("Authentication-Results", forged), ("Subject", "plain mail")])
        out = self.send(mail_from="bob@example.test", message=msg)
        sent = [p for p in out.exchanges[-1].payloads("L") if p.startswith(b"Authentication-Results\0")]
        self.assertEqual(sent[1], b"Authentication-Results\0\0", "Stalwart blanks a value that is not UTF-8")
        self.assertEqual(out.fate, "queued")
        self.assertEqual(out.header_values("Authentication-Results"), ["mx.upstream.test; spf=pass"])
        self.assertNotIn(b"\xff", out.message)
        self.assertEqual(names(out.message), ["Authentication-Results", "From", "Subject"])
        self.assertIn("removed 1 forged verdict claiming our authserv-id: Authentication-Results#2", self.milter.log())

    def test_store_made_unusable_tempfails_aamp_mail(self):
        with database_removed(self.milter):
            out = self.send(mail_from=ALICE, auth_login=ALICE, message=aamp_message(task_id=self.task("store-gone")))
            self.assertEqual(out.fate, "refused")
            self.assertRegex(out.data_reply, r"^451 4\.3\.0 [^\r\n%]+\r\n$")  # the filter's reply, verbatim
            self.assertEqual(self.summary(self.task("store-gone"))["verdict"], "store-error")
            # Plain mail does not need the database.
            plain = self.send(mail_from="bob@example.test")
            self.assertEqual((plain.fate, plain.message), ("queued", Transaction().message))
        # The same process serves again (the next test needs it too).
        wait_until(lambda: self.stalwart.send(Transaction(
            mail_from=ALICE, auth_login=ALICE, message=aamp_message(task_id=self.task("restored")))).fate == "queued",
            PATIENCE, "the milter to use the restored database", interval=0.2)

    def test_headers_arrive_trimmed_with_their_folds(self):
        msg = (b"From:   alice@example.test  \r\nSubject: work\r\n\tfor you \r\nX-AAMP-Version: 1.1\r\n"
               b"X-AAMP-Intent: task.dispatch\r\nX-AAMP-TaskId: " + self.task("folded").encode() + b"\r\n\r\nbody\r\n")
        out = self.send(mail_from=ALICE, auth_login=ALICE, message=msg)
        sent = out.exchanges[-1].payloads("L")
        self.assertEqual(sent[:2], [b"From\0alice@example.test\0", b"Subject\0work\r\n\tfor you\0"])
        self.assertEqual((out.fate, self.summary(self.task("folded"))["verdict"]), ("queued", "allow"))
        self.assertIn(b"Subject: work\r\n\tfor you \r\n", out.message, "the stored message keeps its own bytes")

    def test_skip_offered_by_the_operator(self):
        # flagsProtocol with SKIP: the milter still answers to the end of the message (ACCEPT
        # would be CONTINUE), and SKIPs the body: one chunk of three is sent.
        st = Stalwart(MilterSettings(port=self.milter.port, stages=self.STAGES, flags_protocol=0x442,
                                     timeout_data=PATIENCE, timeout_command=PATIENCE))
        msg = build_message([("From", "bob@example.test"), ("Subject", "plain")], "z" * (2 * CHUNK + 10))
        out = st.send(Transaction(mail_from="bob@example.test", message=msg))
        self.assertEqual((out.fate, out.message), ("queued", msg))
        data = out.exchanges[-1]
        self.assertEqual(data.negotiated_protocol & 0x400, 0x400, "the filter takes SKIP")
        self.assertEqual(len(data.payloads("B")), 1)
        self.assertEqual(data.received[-1][0], "c", "end of message answered")

    def test_body_is_the_whole_message_in_chunks(self):
        msg = aamp_message(task_id=self.task("big"), body="y" * (CHUNK + 100) + "\r\n")
        out = self.send(mail_from=ALICE, auth_login=ALICE, message=msg)
        self.assertEqual(out.fate, "queued")
        chunks = out.exchanges[-1].payloads("B")
        self.assertEqual([len(c) for c in chunks], [CHUNK, len(msg) - CHUNK])
        self.assertEqual(b"".join(chunks), msg, "headers included")


class AtData(Scenarios, unittest.TestCase):
    STAGES = ("data",)


class AtRcptAndData(Scenarios, unittest.TestCase):
    STAGES = ("rcpt", "data")


if __name__ == "__main__":
    unittest.main()
