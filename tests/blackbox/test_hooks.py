"""test_hooks — the real aamp-milter served as a Stalwart MTA hook (HookListen): Stalwart-shaped
hook requests (protocol version 1, stage data, as hooks/message.rs builds them) POSTed over
HTTP to /aamp, and the answer applied as Stalwart applies it (hooks/message.rs:126-150: accept
applies the modifications, reject sends `response`, discard drops the message). The pairing
scenarios of test_stalwart.py run again through the hook; then the HTTP edges: wrong or
missing credentials (401), a body over HookMaxRequestSize (413), malformed JSON (400).
"""

import http.client
import itertools
import json
import os
import signal
import socket
import sqlite3
import subprocess
import unittest
from pathlib import Path

from milter_harness import database_removed, PATIENCE, Milter, free_port, wait_until
from stalwart_emulator import DAEMON_NAME, apply_modifications, build_message, parse_header_block, queue_order

DROP_SENDMAIL = "#!/bin/sh\ncat > /dev/null\n"
TOKEN = "hook-test-token-7f3a"
ALICE = "alice@example.test"
BOB = "bob@partner.test"
_queue_ids = itertools.count(0xA000)


def aamp_message(intent="task.dispatch", task_id="t-1", sender="Alice <alice@example.test>",
                 to="agent@example.test", extra=(), body="please do the work\r\n") -> bytes:
    return build_message([("From", sender), ("To", to), ("Subject", "work for you"),
                          ("Message-ID", f"<{task_id}@example.test>"), ("X-AAMP-Version", "1.1"),
                          ("X-AAMP-Intent", intent), ("X-AAMP-TaskId", task_id), *extra], body)


def hook_request(mail_from: str, rcpts: list[str], message: bytes, auth_login=None, queue_id="") -> dict:
    """As Stalwart 0.16.19 builds it (hooks/mod.rs, message.rs:180-248): untrimmed, folded,
    lossy UTF-8 header values; the body only in contents; lowercased addresses."""
    fields, body = parse_header_block(message)
    context = {"stage": "data",
               "client": {"ip": "192.0.2.9", "port": 50123, "ptr": "client.example.test",
                          "helo": "client.example.test", "activeConnections": 1},
               "server": {"name": DAEMON_NAME, "port": 25, "ip": "192.0.2.1"},
               "queue": {"id": queue_id},
               "protocol": {"version": 1}}
    if auth_login:
        context["sasl"] = {"login": auth_login}
    return {"context": context,
            "envelope": {"from": {"address": mail_from.lower()}, "to": [{"address": r.lower()} for r in rcpts]},
            "message": {"headers": [[n.decode("utf-8", "replace"), v.decode("utf-8", "replace")] for n, v in fields],
                        "contents": body.decode("utf-8", "replace"), "size": len(message)}}


def post(port: int, body: bytes, headers: dict) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
    try:
        conn.request("POST", "/aamp", body=body, headers={"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


class Outcome:
    def __init__(self, fate, reply, recipients, message, answer):
        self.fate, self.reply, self.recipients, self.message, self.answer = fate, reply, recipients, message, answer

    @property
    def headers(self):
        return [(n.decode(), " ".join(v.decode(errors="replace").split())) for n, v in parse_header_block(self.message)[0]]

    def header_values(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]


def stalwart_applies(answer: dict, rcpts: list[str], message: bytes) -> Outcome:
    """hooks/message.rs:126-150, with the header rules of the milter path (the facts page)."""
    action = answer["action"]
    if action == "quarantine":
        raise AssertionError("the hook answered quarantine: Stalwart would drop the message")
    if action == "discard":
        return Outcome("dropped", "250 2.0.0 Message queued for delivery.", [], b"", answer)
    if action == "reject":
        r = answer.get("response")
        reply = f"{r['status']} {r['enhanced_status']} {r['message']}" if r else "503 5.5.3 Message rejected by filter."
        return Outcome("refused", reply, [], b"", answer)
    assert action == "accept", answer
    mods = []
    for m in answer.get("modifications", []):
        if m["type"] == "addHeader":
            mods.append(("addheader", m["name"], m["value"]))
        elif m["type"] == "deleteHeader":
            mods.append(("chgheader", m["index"], m["name"], ""))
        elif m["type"] == "deleteRecipient":
            mods.append(("delrcpt", m["value"]))
        else:
            raise AssertionError(f"unexpected modification {m}")
    accepted = [r.lower() for r in rcpts]
    out, left = apply_modifications(message, accepted, mods) if mods else (message, accepted)
    return Outcome("queued" if left else "unscheduled", "250 2.0.0 queued", queue_order(left), out, answer)


class HookScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.hook_port = free_port()
        cls.milter = m = Milter()
        cls.addClassCleanup(m.close)
        sendmail = m.root / "sendmail"
        sendmail.write_text(DROP_SENDMAIL)
        sendmail.chmod(0o755)
        m.write_config(m.config_text + f"ReplyTransport sendmail:{sendmail}\n"
                       f"HookListen 127.0.0.1:{cls.hook_port}\nHookAuth bearer:{TOKEN}\nHookMaxRequestSize 1m\n")
        m.start()
        m.db.add_mailbox("agent@example.test")
        m.db.allow("agent@example.test", ALICE)
        m.db.add_mailbox("agent2@example.test")
        m.db.add_mailbox("reporter@example.test", mode="report")

    def send(self, mail_from, message, rcpts=("agent@example.test",), auth_login=None, queue_id=None):
        rcpts = list(rcpts)
        queue_id = queue_id or f"{next(_queue_ids):x}"
        req = hook_request(mail_from, rcpts, message, auth_login, queue_id)
        status, _, body = post(self.hook_port, json.dumps(req).encode(), {"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200, body)
        return stalwart_applies(json.loads(body), rcpts, message)

    def summary(self, task_id):
        return self.milter.summary(f"task={task_id} ")

    def outbox(self, task_id):
        c = sqlite3.connect(f"file:{self.milter.database}?mode=ro", uri=True, timeout=5)
        try:
            return c.execute("SELECT from_addr, to_addr, status FROM outbox WHERE task_id = ?", (task_id,)).fetchall()
        finally:
            c.close()

    def issue_code(self, mailbox="agent@example.test"):
        return json.loads(self.milter.db.ctl("--json", "pair", "issue", "--mailbox", mailbox, "--ttl", "5m"))["code"]

    def test_pair_request_to_its_sole_recipient_is_dropped(self):
        code, task = self.issue_code(), "hook-pair-sole"
        out = self.send(BOB, aamp_message("pair.request", task, f"Bob <{BOB}>", extra=[("X-AAMP-Pair-Code", code)]),
                        auth_login=BOB)
        self.assertEqual(out.fate, "dropped", out.answer)
        self.assertEqual(self.summary(task)["verdict"], "pair-completed")
        self.assertEqual(self.outbox(task), [("agent@example.test", BOB, "completed")])
        out = self.send(BOB, aamp_message(task_id="hook-after-pairing", sender=BOB), auth_login=BOB)
        self.assertEqual((out.fate, out.recipients), ("queued", ["agent@example.test"]))
        self.assertEqual(out.headers[0][0], "Authentication-Results")
        self.assertTrue(out.headers[0][1].startswith("mx.example.test; aamp=pass"), out.headers[0])

    def test_pair_request_only_its_recipient_is_removed(self):
        code, task = self.issue_code(), "hook-pair-shared"
        out = self.send(BOB, aamp_message("pair.request", task, BOB, extra=[("X-AAMP-Pair-Code", code)]),
                        rcpts=["agent@example.test", "human@example.test"], auth_login=BOB)
        self.assertEqual((out.fate, out.recipients), ("queued", ["human@example.test"]), out.answer)
        self.assertEqual(self.summary(task)["verdict"], "pair-completed")

    def test_dispatch_allowed_and_the_queue_id_is_audited(self):
        task = "hook-allowed"
        out = self.send(ALICE, aamp_message(task_id=task), rcpts=["agent@example.test", "human@example.test"],
                        auth_login=ALICE, queue_id="b00c1e5")
        self.assertEqual((out.fate, out.recipients), ("queued", ["agent@example.test", "human@example.test"]))
        ar = out.header_values("Authentication-Results")
        self.assertEqual(len(ar), 1, out.headers)
        self.assertIn("aamp=pass", ar[0])
        self.assertEqual(out.headers[0][0], "Authentication-Results")
        self.assertIn("b00c1e5: client=client.example.test[192.0.2.9]", self.milter.log())
        rows = [a for a in self.milter.db.audit() if a.get("taskId") == task]
        self.assertEqual([a["messageId"] for a in rows], ["b00c1e5"], rows)

    def test_dispatch_refused(self):
        task = "hook-refused"
        out = self.send("mallory@example.test", aamp_message(task_id=task, sender="mallory@example.test"),
                        auth_login="mallory@example.test")
        self.assertEqual(out.fate, "refused")
        self.assertRegex(out.reply, r"^550 5\.7\.1 [^%\r\n]+$")
        self.assertEqual(self.summary(task)["reply"], "550/5.7.1")

    def test_two_agents_in_one_message(self):
        task = "hook-two-agents"
        out = self.send(ALICE, aamp_message(task_id=task),
                        rcpts=["agent@example.test", "Agent2@Example.TEST", "human@example.test"], auth_login=ALICE)
        self.assertEqual((out.fate, out.recipients), ("queued", ["agent@example.test", "human@example.test"]),
                         out.answer)
        ar = out.header_values("Authentication-Results")
        self.assertEqual(len(ar), 1, out.headers)
        self.assertNotIn("agent2", ar[0])

    def test_report_mode_delivers_what_it_would_refuse(self):
        task = "hook-report"
        out = self.send("mallory@example.test", aamp_message(task_id=task, sender="mallory@example.test",
                                                             to="reporter@example.test"),
                        rcpts=["reporter@example.test"], auth_login="mallory@example.test")
        self.assertEqual((out.fate, out.recipients), ("queued", ["reporter@example.test"]))
        self.assertIn("aamp=fail", out.header_values("Authentication-Results")[0])
        self.assertEqual(self.summary(task)["verdict"], "report-deny")

    def test_forged_verdict_with_an_8bit_byte_is_removed(self):
        # Through the hook the value is not blanked: Stalwart sends it as lossy UTF-8.
        forged = b"mx.example.test\xff; aamp=pass policy.rule=99"
        msg = build_message([("Authentication-Results", "mx.upstream.test; spf=pass"), ("From", "bob@example.test"),
                             ("Authentication-Results", forged), ("Subject", "plain mail")])
        out = self.send("bob@example.test", msg)
        self.assertEqual(out.fate, "queued")
        self.assertEqual(out.header_values("Authentication-Results"), ["mx.upstream.test; spf=pass"])
        self.assertIn("removed 1 forged verdict claiming our authserv-id: Authentication-Results#2", self.milter.log())

    def test_store_made_unusable_tempfails_aamp_mail(self):
        with database_removed(self.milter):
            out = self.send(ALICE, aamp_message(task_id="hook-store-gone"), auth_login=ALICE)
            self.assertEqual(out.fate, "refused")
            self.assertRegex(out.reply, r"^451 4\.3\.0 [^\r\n%]+$")
            self.assertEqual(self.summary("hook-store-gone")["verdict"], "store-error")
            plain = self.send("bob@example.test", build_message([("From", "bob@example.test"), ("Subject", "hi")]))
            self.assertEqual(plain.fate, "queued")
            self.assertEqual(plain.answer, {"action": "accept"})
        wait_until(lambda: self.send(ALICE, aamp_message(task_id="hook-restored"), auth_login=ALICE).fate == "queued",
                   PATIENCE, "the hook to use the restored database", interval=0.2)

    # The HTTP edges.

    def good_body(self) -> bytes:
        return json.dumps(hook_request(ALICE, ["agent@example.test"], aamp_message(task_id="hook-edge"), ALICE)).encode()

    def test_wrong_or_missing_credentials(self):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"}):
            status, got, _ = post(self.hook_port, self.good_body(), headers)
            self.assertEqual(status, 401, headers)
            self.assertEqual(got.get("WWW-Authenticate"), 'Bearer realm="aamp-milter"')
        self.assertNotIn(TOKEN, self.milter.log(), "credentials never reach a log line")
        self.assertIn("wrong or missing credentials", self.milter.log())

    def test_huge_body_is_413(self):
        s = socket.create_connection(("127.0.0.1", self.hook_port), timeout=PATIENCE)
        try:
            s.sendall(b"POST /aamp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
                      b"\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        finally:
            s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply)
        # Still serving.
        status, _, _ = post(self.hook_port, self.good_body(), {"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 200)

    def test_malformed_json_and_missing_fields_are_400(self):
        for body in (b"{not json", b"[]", b'{"context":{"stage":"data"}}',
                     json.dumps({"context": {"stage": "data"}, "envelope": {"from": {"address": "a@b"}, "to": []}}).encode()):
            status, _, text = post(self.hook_port, body, {"Authorization": f"Bearer {TOKEN}"})
            self.assertEqual(status, 400, body)
            self.assertTrue(text, "a clear error")

    def test_other_paths_and_methods(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.hook_port, timeout=PATIENCE)
        try:
            conn.request("GET", "/aamp")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 405)
            conn.request("POST", "/other", body=b"{}")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 404)
        finally:
            conn.close()

    def test_check_mode_masks_the_credential(self):
        out = subprocess.run([self.milter.binary, "-n", "-c", str(self.milter.config_path)], capture_output=True,
                             text=True, timeout=PATIENCE)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"hook endpoint http://127.0.0.1:{self.hook_port}/aamp, auth bearer:****", out.stdout)
        self.assertNotIn(TOKEN, out.stdout + out.stderr)

    def test_reload_keeps_the_hook_serving(self):
        reloaded = self.milter.log().count("configuration reloaded")
        self.milter.signal(signal.SIGUSR1)
        wait_until(lambda: self.milter.log().count("configuration reloaded") > reloaded, PATIENCE, "the reload")
        out = self.send(ALICE, aamp_message(task_id="hook-after-reload"), auth_login=ALICE)
        self.assertEqual(out.fate, "queued")
        self.assertNotIn("need a restart", self.milter.log())

    def test_earlier_stages_accept(self):
        for stage in ("connect", "ehlo", "mail", "rcpt"):
            body = json.dumps({"context": {"stage": stage, "client": {"ip": "192.0.2.9"}, "protocol": {"version": 1}},
                               "envelope": {"from": {"address": ALICE}, "to": [{"address": "agent@example.test"}]}})
            status, _, text = post(self.hook_port, body.encode(), {"Authorization": f"Bearer {TOKEN}"})
            self.assertEqual((status, json.loads(text)), (200, {"action": "accept"}), stage)


if __name__ == "__main__":
    unittest.main()
