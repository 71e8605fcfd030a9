"""test_corpus — the adversarial corpus (tests/corpus) through the REAL aamp-milter: every
file is sent by bench/loadgen's milter_replay on a milter connection of its own, as Postfix
would, and must get the outcome the file states (action, SMTP reply, the summary line's
verdict, the audit rows, removed recipients and headers, queued pair.respond); the queued
replies the daemon hands to sendmail must carry no injected header; and after all of them
the milter must still be running, answer a plain dispatch, and stop cleanly (exit 0, no
sanitizer report). One milter for the whole corpus.

The scene is tests/corpus/README.md's, set up with aampctl; the pair codes are real ones
(aampctl pair issue) substituted for the scene's names in each file. Between sequence
groups the database's pairing state is put back with sqlite3 (failures, lockouts, paired
rules, consumed codes) and the thread registry emptied (threads, delivered Message-IDs:
the files share a few Message-IDs, and a second group's message would be a copy of the
first's), as every group starts from the scene in corpus_test too. Skipped,
with the rest of their group: files marked `X-Test-Blackbox: skip`, and those needing a
store fault or the scene's fixed clock (milter_replay plays Postfix).
A file marked `X-Test-Blackbox: dropped` is sent, and libmilter must drop that connection
(the MTA then applies milter_default_action) while the milter lives on.
"""

import json
import os
import re
import sqlite3
import subprocess
import time
import unittest
from pathlib import Path

from milter_harness import Milter, wait_until

SOURCE = Path(os.environ.get("AAMP_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BINARY = Path(os.environ.get("AAMP_BINARY_DIR", SOURCE / "build"))
CORPUS = SOURCE / "tests" / "corpus"
REPLAY = BINARY / "bench" / "loadgen" / "milter_replay"

FAKE_SENDMAIL = """#!/bin/sh
# Keeps each message it is given in the directory it lives in.
dir=$(dirname "$0")
n=$(date +%s%N)
cat > "$dir/part.$n" && mv "$dir/part.$n" "$dir/mail.$n"   # appears only when complete
"""

SENDER_LOGINS = "relay@example.com  @example.com\nci-bot  ci-*@partner.example\n"

# The headers a pair.respond may carry, once each (mail/reply.hpp).
REPLY_HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
                 "x-aamp-version", "x-aamp-intent", "x-aamp-taskid", "x-aamp-status", "x-aamp-errormsg",
                 "mime-version", "content-type", "content-transfer-encoding"}


def parse_case(path: Path) -> dict:
    """The X-Test-* pseudo-headers of a corpus file (tests/corpus/README.md)."""
    case = {"name": path.name, "group": re.match(rb"\d+", path.name.encode()).group().decode(), "rcpt": [],
            "delete": [], "outbox": []}
    for raw in path.read_bytes().split(b"\n"):
        if not raw.lower().startswith(b"x-test-"):
            break
        name, _, value = raw.decode("utf-8", "replace").partition(":")
        key, value = name[7:].lower(), value.strip()
        if key == "rcpt":
            case["rcpt"].append(value)
        elif key == "expect-delete-rcpt":
            case["delete"].append(value)
        elif key == "expect-outbox":
            if value != "none":
                case["outbox"].append(value)
            case["outbox_given"] = True
        else:
            case[key] = value
    return case


def skip_reason(case: dict) -> str:
    if case.get("blackbox", "").startswith("skip "):
        return case["blackbox"][5:]
    for key, why in (("store-fault", "a store fault"), ("clock", "the scene's clock"),
                     ("known-bug", "a known bug")):
        if key in case:
            return "needs " + why
    return ""


def header_names(mail: bytes) -> list[str]:
    head = mail.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    names = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        names.append(line.split(b":", 1)[0].decode("ascii", "replace"))
    return names


class CorpusThroughTheMilter(unittest.TestCase):
    def setUp(self):
        if not os.access(REPLAY, os.X_OK):
            self.skipTest(f"{REPLAY} is not built (cmake --build BUILD --target milter_replay)")
        self.milter = Milter(authserv_id="mx.example.net")
        self.addCleanup(self.milter.close)  # asserts exit status 0 and no sanitizer report
        root = self.milter.root
        self.sent = root / "sent"
        self.sent.mkdir()
        sendmail = self.sent / "sendmail"
        sendmail.write_text(FAKE_SENDMAIL)
        sendmail.chmod(0o755)
        (root / "sender-logins").write_text(SENDER_LOGINS)
        self.milter.write_config(
            self.milter.config_text +
            "TrustedAuthservIDs border.example.net\nInternalHosts 10.0.0.0/8, fd00::/8\n"
            f"SenderLogins {root / 'sender-logins'}\nReplyTransport sendmail:{sendmail}\n"
            "ReplyPollInterval 1s\nReplyRetryInitial 1s\n")
        self.codes = self.build_scene()
        self.milter.start()
        self.files = root / "files"
        self.files.mkdir()

    # -- the scene -------------------------------------------------------------------

    def build_scene(self) -> dict:
        db = self.milter.db
        db.ctl("init")
        db.add_mailbox("agent@example.net")
        db.add_mailbox("@agents.example.net")
        db.add_mailbox("watch@example.net", "report")
        db.ctl("mailbox", "add", "authonly@example.net", "--trust", "auth")
        db.add_mailbox("off@example.net", "off")
        db.allow("agent@example.net", "alice@example.com")
        db.ctl("sender", "allow", "--mailbox", "agent@example.net", "@partner.example", "--context", "project=p1,p2")
        for mailbox in ("@agents.example.net", "watch@example.net", "authonly@example.net"):
            db.allow(mailbox, "alice@example.com")

        def issue(mailbox, *extra):
            out = json.loads(db.ctl("--json", "pair", "issue", "--mailbox", mailbox, "--ttl", "2h", *extra))
            return out["code"], out["id"]

        codes, self.live_ids = {}, []
        for name, mailbox, extra in (("LiveCode-A1b2C3", "agent@example.net", ("--rules", "project=p1,p2")),
                                     ("LongCode-Z9y8X7", "agent@example.net", ()),
                                     ("DomainCode-D5f6", "x@agents.example.net", ()),
                                     ("WatchCode-V7k8", "watch@example.net", ())):
            codes[name], code_id = issue(mailbox, *extra)
            self.live_ids.append(code_id)
        codes["ExpiredCode-Q1"], expired = issue("agent@example.net")
        codes["UsedCode-W2e3"], used = issue("agent@example.net")
        codes["RevokedCode-R4"], revoked = issue("agent@example.net")
        db.ctl("pair", "revoke", str(revoked))
        with self.sql() as conn:
            now = int(time.time())
            conn.execute("UPDATE pair_codes SET expires_at = ? WHERE id = ?", (now - 1, expired))
            conn.execute("UPDATE pair_codes SET consumed_at = ?, consumed_by = 'earlier@example.org' WHERE id = ?",
                         (now - 60, used))
            # The scene's domain code works for every address of the domain mailbox.
            conn.execute("UPDATE pair_codes SET address = NULL WHERE id = ?", (self.live_ids[2],))
            agent = conn.execute("SELECT id FROM mailboxes WHERE address = 'agent@example.net'").fetchone()[0]
            conn.execute("INSERT INTO sender_rules (mailbox_id, pattern, pattern_kind, context_rules, origin, created_at,"
                         " created_by, updated_at) VALUES (?, 'earlier@example.org', 'exact', '{}', 'paired', ?, ?, ?)",
                         (agent, now - 60, f"pair-code:{used}", now - 60))
        return codes

    def sql(self):
        conn = sqlite3.connect(self.milter.database, timeout=10, isolation_level=None)

        class Tx:
            def __enter__(self_):
                conn.execute("BEGIN IMMEDIATE")
                return conn

            def __exit__(self_, exc, *_):
                conn.execute("ROLLBACK" if exc else "COMMIT")
                conn.close()
        return Tx()

    def reset_scene_state(self):
        """What a sequence group may have changed, put back to the scene."""
        with self.sql() as conn:
            conn.execute("DELETE FROM threads")
            conn.execute("DELETE FROM delivered_messages")
            conn.execute("DELETE FROM pair_failures")
            conn.execute("DELETE FROM pair_lockouts")
            conn.execute("DELETE FROM sender_rules WHERE origin = 'paired' AND pattern <> 'earlier@example.org'")
            conn.execute(f"UPDATE pair_codes SET consumed_at = NULL, consumed_by = NULL "
                         f"WHERE id IN ({','.join(str(i) for i in self.live_ids)})")

    def query(self, sql, args=()):
        conn = sqlite3.connect(f"file:{self.milter.database}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    # -- replay ------------------------------------------------------------------------

    def replay(self, paths, prefix):
        p = subprocess.run([str(REPLAY), "-s", f"inet:{self.milter.port}@127.0.0.1", "--queue-prefix", prefix,
                            *map(str, paths)], capture_output=True, timeout=600)
        lines = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
        self.assertEqual(len(lines), len(paths), p.stderr.decode())
        return lines

    def substituted(self, path: Path) -> Path:
        data = path.read_bytes()
        for name, code in self.codes.items():
            data = data.replace(name.encode(), code.encode())
        out = self.files / path.name
        out.write_bytes(data)
        return out

    def check(self, case: dict, got: dict, audit: list, outbox: list) -> list[str]:
        wrong = []
        if "error" in got:
            return [f"no decision: {got['error']}"]
        if got["verdict"] != case["expect-action"]:
            wrong.append(f"action: want {case['expect-action']}, got {got['verdict']} ({got['reply']})")
        if "expect-reply" in case:
            want = case["expect-reply"].split(" try again after ")[0]  # the lockout's end: real clock
            if not got["reply"].startswith(want):
                wrong.append(f"reply: want prefix {want!r}, got {got['reply']!r}")
        summaries = self.milter.summaries(got["queue_id"] + ":")
        verdict = summaries[0].get("verdict") if summaries else "not-aamp"  # no line: accepted at end of headers
        if verdict != case["expect-verdict"]:
            wrong.append(f"verdict: want {case['expect-verdict']}, got {verdict}")
        want_audit = [] if case["expect-audit"] == "none" else [v.strip() for v in case["expect-audit"].split(",")]
        if audit != want_audit:
            wrong.append(f"audit: want {want_audit}, got {audit}")
        if got["del_rcpt"] != len(case["delete"]):
            wrong.append(f"deleted recipients: want {len(case['delete'])}, got {got['del_rcpt']}")
        # Forged verdicts are removed only from mail that is delivered (apply.cpp).
        delivered = got["verdict"] in ("accept", "quarantine")
        if delivered and got["chg_header"] != int(case.get("expect-removed-headers", "0")):
            wrong.append(f"removed headers: want {case.get('expect-removed-headers', '0')}, got {got['chg_header']}")
        added = got["add_header"] + got["ins_header"]
        if case.get("expect-verdict-header") == "none" and added:
            wrong.append(f"verdict header: want none, got {added}")
        elif case.get("expect-verdict-header", "none") != "none" and not added:
            wrong.append("verdict header: want one, got none")
        if case.get("outbox_given"):
            got_out = [s if s == "completed" else f"{s} {e}" for s, e, _ in outbox]
            if got_out != case["outbox"]:
                wrong.append(f"outbox: want {case['outbox']}, got {got_out}")
        if "expect-in-reply-to" in case:
            want_irt = "" if case["expect-in-reply-to"] == "none" else case["expect-in-reply-to"]
            for _, _, irt in outbox:
                if irt != want_irt:
                    wrong.append(f"in-reply-to: want {want_irt!r}, got {irt!r}")
        return wrong

    def test_every_file_gets_its_outcome_and_the_milter_survives(self):
        cases = [parse_case(p) for p in sorted(CORPUS.glob("*.eml"))]
        self.assertGreaterEqual(len(cases), 150)
        groups = {}
        for c in cases:
            groups.setdefault(c["group"], []).append(c)
        failures, skipped, dropped, replayed = [], [], [], 0
        for g_index, (group, members) in enumerate(groups.items()):
            run = []
            for c in members:
                reason = skip_reason(c)
                if reason:  # the rest of the group depends on this one's effects
                    skipped += [f"{m['name']}: {reason if m is c else 'after ' + c['name']}" for m in members[len(run):]]
                    break
                run.append(c)
            if not run:
                continue
            self.reset_scene_state()
            for f_index, c in enumerate(run):
                last_outbox = self.query("SELECT coalesce(max(id), 0) FROM outbox")[0][0]
                got = self.replay([self.substituted(CORPUS / c["name"])], f"Q{g_index:03X}{f_index:02X}")[0]
                replayed += 1
                audit = [r[0] for r in self.query("SELECT verdict FROM audit WHERE message_id = ? ORDER BY id",
                                                  (got["queue_id"],))]
                outbox = self.query("SELECT status, error_msg, in_reply_to FROM outbox WHERE id > ? ORDER BY id",
                                    (last_outbox,))
                if c.get("blackbox", "").startswith("dropped:"):
                    dropped.append(c["name"])
                    wrong = [] if "error" in got else [f"expected the milter to drop the connection, got {got}"]
                else:
                    wrong = self.check(c, got, audit, outbox)
                failures += [f"{c['name']}: {w}" for w in wrong]
        print(f"\ncorpus through the milter: {replayed} files replayed ({len(dropped)} dropped by libmilter as "
              f"announced), {len(skipped)} skipped")
        for s in skipped:
            print(f"  skipped {s}")
        self.assertEqual(failures, [], "\n" + "\n".join(failures[:60]) + "\n" + self.milter.log()[-3000:])

        # Still running, still answering: a plain allowed dispatch after all of that.
        self.assertIsNone(self.milter.proc.poll(), "the milter died")
        self.reset_scene_state()
        again = self.replay([self.substituted(CORPUS / "001-valid-dispatch-smtp-auth.eml")], "ZZZZ")[0]
        self.assertEqual((again.get("verdict"), again.get("add_header", 0) + again.get("ins_header", 0)), ("accept", 1),
                         again)

        # Every pair.respond the daemon handed to sendmail: only the reply's own headers, once each.
        wait_until(lambda: not self.query("SELECT 1 FROM outbox WHERE sent_at IS NULL AND abandoned_at IS NULL"),
                   60, "the reply worker to drain the outbox")
        mails = sorted(self.sent.glob("mail.*"))
        sent = self.query("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")[0][0]
        self.assertEqual(len(mails), sent)
        for mail in mails:
            names = [n.lower() for n in header_names(mail.read_bytes())]
            self.assertTrue(set(names) <= REPLY_HEADERS, f"{mail.name}: {names}")
            self.assertEqual(len(names), len(set(names)), f"{mail.name}: a header twice: {names}")
        abandoned = self.query("SELECT to_addr, task_id, last_error FROM outbox WHERE abandoned_at IS NOT NULL")
        self.assertEqual(abandoned, [])


if __name__ == "__main__":
    unittest.main()
