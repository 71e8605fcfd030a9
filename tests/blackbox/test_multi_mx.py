"""test_multi_mx — several aamp-milter processes (each on its own port, as on several MX
hosts) against one real PostgreSQL 15 cluster, started once for the module
(tests/pg_cluster.py); issue 12, points 3 and 5. Each test gets a database of its own in
that cluster, made and migrated with `aampctl --db URL init` as an operator would.

- Exactly once across hosts: 1,000 concurrent pair.requests (100 mailboxes, one code each,
  10 requesters per code) over 3 milters: each code consumed once, one completed and nine
  rejected pair.respond queued per code, and every reply handed to sendmail exactly once
  by the 3 reply workers sharing the outbox.
- A burst of wrong codes at one mailbox through 3 milters locks it out after the same
  count as on one host.
- Faults: the server stopped and started again; a backend killed with
  pg_terminate_backend; a multi-host connection string whose first host refuses; the
  password never in the log nor in aampctl's output; a server restart in the middle of a
  pairing burst.

Transactions are played by miltertest (milter_harness.run_transaction), concurrently from a
bounded thread pool. Every wait is bounded; no assertion is about time. The sendmail
command is a script that keeps each message it is given, one file each.
"""

import concurrent.futures
import itertools
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import unittest
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pg_cluster  # noqa: E402  (tests/pg_cluster.py)

from milter_harness import Milter, PolicyDb, Transaction, free_port, run_transaction, wait_until  # noqa: E402

PG = None  # the module's cluster (setUpModule)

FAKE_SENDMAIL = """#!/bin/sh
# Keeps each message it is given in a file of its own in the directory it lives in (two
# processes per reply: on a loaded 2-core machine each fork counts). The tests read the
# files only once the outbox says the reply was sent, i.e. after this script exited.
mail=$(mktemp "${0%/*}/mail.XXXXXXXXXX") || exit 75
exec cat > "$mail"
"""

ALICE = {"{auth_authen}": "alice@example.test"}
POOL = 8                 # concurrent miltertest processes (2 cores: bounded, not one per attempt)
BURST_PATIENCE = 600.0   # a bound for a whole burst of transactions on a loaded machine
REPLY_PATIENCE = 300.0   # a bound for the reply workers to drain the outbox
RECOVERY = 60.0          # a bound for the milter to serve AAMP mail again after a fault

_db_ids = itertools.count(1)
_tx_dirs = itertools.count(1)


def setUpModule():
    global PG
    PG = pg_cluster.PgCluster()


def tearDownModule():
    if PG is not None:
        PG.stop()


class MultiMx(unittest.TestCase):
    """Helpers: a fresh database, milters on it, pair.requests and what the database holds."""

    def setUp(self):
        self.started = time.monotonic()
        self.dbname = f"aamp_{next(_db_ids)}"
        PG.superuser_sql(f"CREATE DATABASE {self.dbname} OWNER aamp", database="postgres")
        self.url = self.url_for(f"127.0.0.1:{PG.port}")
        self.db = PolicyDb(self.url)
        self.db.ctl("init")
        self.milters: list[Milter] = []

    def tearDown(self):
        print(f"\n  {self.id().rsplit('.', 1)[-1]}: {time.monotonic() - self.started:.1f} s", file=sys.stderr)

    def url_for(self, hosts: str, query: str = "") -> str:
        return f"postgresql://aamp:{PG.password}@{hosts}/{self.dbname}{query}"

    def sql(self, query: str) -> list[list[str]]:
        out = PG.superuser_sql(query, database=self.dbname)
        return [line.split("|") for line in out.splitlines()] if out else []

    def start_milters(self, n: int, extra_config: str = "", database: str | None = None) -> list[Milter]:
        for _ in range(n):
            m = Milter(extra_config, database=database or self.url)
            self.addCleanup(m.close)
            outdir = m.root / "sent"
            outdir.mkdir()
            sendmail = outdir / "sendmail"
            sendmail.write_text(FAKE_SENDMAIL)
            sendmail.chmod(0o755)
            m.write_config(m.config_text + f"ReplyTransport sendmail:{sendmail}\n")
            m.start()
            m.outdir = outdir
            self.milters.append(m)
        # libmilter sees SIGTERM at its next 5 s poll: all stop at once, then each is waited for.
        self.addCleanup(self.signal_stop, self.milters[-n:])
        return self.milters[-n:]

    @staticmethod
    def signal_stop(milters: list[Milter]) -> None:
        for m in milters:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.terminate()

    def add_mailboxes(self, mailboxes: list[str]) -> None:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(self.db.add_mailbox, mailboxes, timeout=BURST_PATIENCE))

    def issue_codes(self, mailboxes: list[str]) -> dict[str, str]:
        """One live code per mailbox (aampctl pair issue --json), issued concurrently."""
        def issue(mailbox: str) -> str:
            return json.loads(self.db.ctl("--json", "pair", "issue", "--mailbox", mailbox, "--ttl", "1h"))["code"]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            return dict(zip(mailboxes, pool.map(issue, mailboxes, timeout=BURST_PATIENCE)))

    @staticmethod
    def pair_request(mailbox: str, requester: str, code: str) -> Transaction:
        task = f"pair-{secrets.token_hex(6)}"
        headers = [("From", requester), ("To", mailbox), ("Subject", "pairing"),
                   ("Message-ID", f"<{task}@partner.test>"), ("X-AAMP-Version", "1.1"),
                   ("X-AAMP-Intent", "pair.request"), ("X-AAMP-TaskId", task), ("X-AAMP-Pair-Code", code)]
        return Transaction(mail_from=f"<{requester}>", mail_macros={"{auth_authen}": requester},
                           rcpts=[f"<{mailbox}>"], headers=headers)

    @staticmethod
    def run_on(m: Milter, tx: Transaction) -> tuple[str, dict]:
        """One transaction (its own script directory: several threads share a milter) and
        the milter's summary line for it."""
        workdir = m.root / f"tx{next(_tx_dirs)}"
        workdir.mkdir()
        r = run_transaction(f"inet:{m.port}@127.0.0.1", tx, workdir)
        return r.eom, m.summary(tx.queue_id)

    def burst(self, jobs: list[tuple[Milter, Transaction]]) -> list[tuple[str, dict]]:
        """All jobs at once from a bounded pool; results in the jobs' order."""
        with concurrent.futures.ThreadPoolExecutor(POOL) as pool:
            futures = [pool.submit(self.run_on, m, tx) for m, tx in jobs]
            done, pending = concurrent.futures.wait(futures, timeout=BURST_PATIENCE)
            for f in pending:
                f.cancel()
            self.assertFalse(pending, f"{len(pending)} of {len(jobs)} transactions unfinished after {BURST_PATIENCE} s")
            return [f.result() for f in futures]

    def deliveries(self) -> Counter:
        """Reply Message-ID -> how many times sendmail was given it, over every milter."""
        seen: Counter = Counter()
        for m in self.milters:
            for mail in m.outdir.glob("mail.*"):
                found = re.search(r"^Message-ID:\s*(\S+)", mail.read_text(), re.M | re.I)
                self.assertIsNotNone(found, f"{mail} has no Message-ID")
                seen[found.group(1)] += 1
        return seen

    def wait_replies_sent(self) -> list[list[str]]:
        """Waits until no outbox row is unsent; returns (message_id, status, attempts) rows."""
        def drained():
            return self.sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0] == "0"
        wait_until(drained, REPLY_PATIENCE, "every queued pair.respond to be sent", interval=0.5)
        self.assertEqual(self.sql("SELECT count(*) FROM outbox WHERE abandoned_at IS NOT NULL"), [["0"]])
        return self.sql("SELECT message_id, status, attempts FROM outbox ORDER BY id")

    def assert_each_reply_delivered_once(self) -> None:
        rows = self.wait_replies_sent()
        files = self.deliveries()
        twice = {mid: n for mid, n in files.items() if n != 1}
        self.assertEqual(twice, {}, "a reply handed to sendmail more than once")
        self.assertEqual(set(files), {r[0] for r in rows}, "sendmail got exactly the queued replies")

    def assert_no_password(self, text: str, what: str) -> None:
        self.assertNotIn(PG.password, text, f"the database password in {what}")


class ExactlyOnce(MultiMx):
    def test_1000_concurrent_pair_attempts_over_3_milters(self):
        # Nine of every ten attempts are wrong codes (used): with the default limit of 5
        # the mailbox would be locked out after five of them. 1000 keeps every one a
        # plain "already used" rejection with its reply.
        milters = self.start_milters(3, "PairMaxFailures 1000\nReplyPollInterval 1s\n")
        mailboxes = [f"agent{i:03d}@example.test" for i in range(100)]
        self.add_mailboxes(mailboxes)
        t = time.monotonic()
        codes = self.issue_codes(mailboxes)
        issued = time.monotonic() - t

        # The ten attempts at one code side by side in the queue, each on the next milter:
        # the pool runs them at the same time, through all three.
        jobs, who = [], []
        for i, mailbox in enumerate(mailboxes):
            for j in range(10):
                requester = f"req{j}.{i:03d}@partner{j}.test"  # 1,000 different requesters
                who.append((mailbox, requester))
                jobs.append((milters[(i * 10 + j) % 3], self.pair_request(mailbox, requester, codes[mailbox])))
        t = time.monotonic()
        results = self.burst(jobs)
        sent = time.monotonic() - t

        verdicts = Counter(s["verdict"] for _, s in results)
        self.assertEqual(verdicts, Counter({"pair-completed": 100, "pair-rejected": 900}), verdicts)
        self.assertEqual({eom for eom, _ in results}, {"discard"})  # consumed at the MTA, every one
        completed_by = {mb: req for (mb, req), (_, s) in zip(who, results) if s["verdict"] == "pair-completed"}
        self.assertEqual(len(completed_by), 100, "one completed attempt per mailbox")

        # The codes: each consumed exactly once, by the requester the milter told.
        listed = json.loads(self.db.ctl("--json", "pair", "list"))
        self.assertEqual(len(listed), 100)
        for c in listed:
            self.assertEqual(c["state"], "used", c)
            self.assertEqual(c["consumedBy"], completed_by[c["mailbox"]], c)
        # The audit trail: per mailbox one pair-completed and nine pair-rejected.
        audit = Counter((a["recipient"], a["verdict"]) for a in self.db.audit())
        for mailbox in mailboxes:
            self.assertEqual((audit[(mailbox, "pair-completed")], audit[(mailbox, "pair-rejected")]), (1, 9), mailbox)
        # The paired rules: one per mailbox, for the winner.
        rules = self.sql("SELECT m.address, r.pattern FROM sender_rules r JOIN mailboxes m ON m.id = r.mailbox_id "
                         "WHERE r.origin = 'paired'")
        self.assertEqual(dict((a, p) for a, p in rules), completed_by)
        # The outbox: per code exactly one completed pair.respond (to the winner), nine rejected.
        queued = self.sql("SELECT from_addr, to_addr, status FROM outbox")
        self.assertEqual(len(queued), 1000)
        per_mailbox = Counter((f, s) for f, _, s in queued)
        for mailbox in mailboxes:
            self.assertEqual((per_mailbox[(mailbox, "completed")], per_mailbox[(mailbox, "rejected")]), (1, 9))
        self.assertEqual({f: to for f, to, s in queued if s == "completed"}, completed_by)

        t = time.monotonic()
        self.assert_each_reply_delivered_once()
        drained = time.monotonic() - t
        by_milter = [len(list(m.outdir.glob("mail.*"))) for m in milters]
        print(f"\n  codes issued in {issued:.1f} s; 1,000 attempts in {sent:.1f} s; replies drained "
              f"{drained:.1f} s later; sent per milter {by_milter}", file=sys.stderr)
        for m in milters:
            self.assertIsNone(m.proc.poll(), m.log())


class Lockout(MultiMx):
    N = 5  # PairMaxFailures

    def wrong_burst(self, milters: list[Milter], mailbox: str, attempts: int, concurrent: bool) -> list[str]:
        jobs = [(milters[k % len(milters)],
                 self.pair_request(mailbox, f"guess{k}@stranger{k}.test", secrets.token_urlsafe(12)))
                for k in range(attempts)]
        results = self.burst(jobs) if concurrent else [self.run_on(m, tx) for m, tx in jobs]
        return [s["verdict"] for _, s in results]

    def audit_in_order(self, mailbox: str) -> list[tuple[str, str]]:
        return [(v, r) for v, r in self.sql(f"SELECT verdict, reason FROM audit WHERE recipient = '{mailbox}' "
                                             "ORDER BY id")]

    def test_wrong_code_burst_over_3_milters_locks_out_after_the_same_count_as_one_host(self):
        milters = self.start_milters(3, f"PairMaxFailures {self.N}\n")
        one, many = self.db.add_mailbox("one-host@example.test"), self.db.add_mailbox("three-hosts@example.test")
        codes = self.issue_codes([one, many])

        # The reference: one host, one attempt after the other.
        self.wrong_burst(milters[:1], one, 3 * self.N, concurrent=False)
        # The same burst through all three at once.
        verdicts = self.wrong_burst(milters, many, 3 * self.N, concurrent=True)
        self.assertEqual(Counter(verdicts), Counter({"pair-rejected": self.N, "pair-locked": 2 * self.N}))

        # Even the right code is locked out now, on every host; the code stays live.
        for m in milters:
            for mailbox in (one, many):
                eom, s = self.run_on(m, self.pair_request(mailbox, "late@partner.test", codes[mailbox]))
                self.assertEqual((eom, s["verdict"], s["reply"]), ("replycode", "pair-locked", "550/5.7.1"), m.log())
        self.assertEqual({c["state"] for c in json.loads(self.db.ctl("--json", "pair", "list"))}, {"live"})

        for mailbox in (one, many):
            trail = self.audit_in_order(mailbox)
            self.assertEqual(len(trail), 3 * self.N + 3)
            # The first N (in commit order: audit ids) are wrong codes, every later one locked out.
            self.assertEqual([v for v, _ in trail[:self.N]], ["pair-rejected"] * self.N, trail)
            self.assertTrue(all("unknown pair code" in r for _, r in trail[:self.N]), trail)
            self.assertEqual({v for v, _ in trail[self.N:]}, {"pair-locked"}, trail)
            self.assertTrue(all("too many failed pairing attempts" in r for _, r in trail[self.N:]), trail)
        lockouts = self.sql("SELECT m.address, l.failures FROM pair_lockouts l JOIN mailboxes m ON m.id = l.mailbox_id "
                            "ORDER BY m.address")
        self.assertEqual(lockouts, [[one, str(self.N)], [many, str(self.N)]])


class Faults(MultiMx):
    """One or two milters; agent@example.test protected, alice allowed."""

    def setUp(self):
        super().setUp()
        self.agent = self.db.add_mailbox("agent@example.test")
        self.db.allow(self.agent, "alice@example.test")
        self.addCleanup(self.make_sure_server_runs)

    @staticmethod
    def make_sure_server_runs():
        """A failed test must not leave the module's server stopped."""
        try:
            PG.superuser_sql("SELECT 1")
        except RuntimeError:
            PG.resume()

    def dispatch(self, m: Milter) -> tuple[str, dict]:
        headers = [("From", "Alice <alice@example.test>"), ("To", self.agent), ("Subject", "work"),
                   ("Message-ID", f"<{secrets.token_hex(6)}@example.test>"), ("X-AAMP-Version", "1.1"),
                   ("X-AAMP-Intent", "task.dispatch"), ("X-AAMP-TaskId", f"t-{secrets.token_hex(6)}")]
        return self.run_on(m, Transaction(headers=headers, mail_macros=ALICE))

    def allowed(self, m: Milter) -> bool:
        eom, s = self.dispatch(m)
        return (eom, s["action"], s["verdict"]) == ("continue", "accept", "allow")

    def assert_allowed(self, m: Milter, what: str) -> None:
        eom, s = self.dispatch(m)
        self.assertEqual((eom, s["action"], s["verdict"]), ("continue", "accept", "allow"), f"{what}\n{m.log()}")

    def assert_tempfails(self, m: Milter, what: str) -> dict:
        eom, s = self.dispatch(m)
        self.assertEqual(eom, "replycode", f"{what}\n{m.log()}")
        self.assertEqual((s["action"], s["reply"], s["verdict"]), ("tempfail", "451/4.3.0", "store-error"),
                         f"{what}\n{m.log()}")
        return s

    def assert_plain_mail_flows(self, m: Milter, what: str) -> None:
        r = run_transaction(f"inet:{m.port}@127.0.0.1",
                            Transaction(headers=[("From", "bob@example.test")], mail_from="<bob@example.test>"),
                            m.root)
        self.assertEqual(r.replies["eoh"], "accept", what)

    def assert_recovers(self, m: Milter, pid: int, what: str) -> None:
        """The same process serves AAMP mail again by itself (each try one message; a try
        during the recovery may tempfail, as the MTA would then retry)."""
        wait_until(lambda: self.allowed(m), RECOVERY, f"the milter to allow AAMP mail again {what}", interval=0.5)
        self.assertEqual(m.proc.pid, pid)
        self.assertIsNone(m.proc.poll(), m.log())

    def assert_change_reaches(self, *milters: Milter) -> None:
        """The milters' view of the policy came back too: an operator's change (alice's rule
        removed) is enforced by each, within a bounded wait."""
        rule_id = self.sql("SELECT id FROM sender_rules WHERE pattern = 'alice@example.test'")[0][0]
        self.db.ctl("sender", "remove", rule_id)
        for m in milters:
            wait_until(lambda: self.dispatch(m)[1]["verdict"] == "deny", RECOVERY,
                       "the removed rule to be enforced after the fault", interval=0.5)

    def test_server_stopped_then_started_again(self):
        m, = self.start_milters(1)
        pid = m.proc.pid
        self.assert_allowed(m, "before the fault")
        PG.halt()
        try:
            s = self.assert_tempfails(m, "the server is stopped")
            self.assertIn("server", s["reason"])
            self.assert_plain_mail_flows(m, "the server is stopped")
            self.assert_tempfails(m, "still stopped")  # every message, not only the first
        finally:
            PG.resume()
        self.assert_recovers(m, pid, "after the server started again")
        self.assert_change_reaches(m)
        self.assert_no_password(m.log(), "the milter's log")

    def test_backend_terminated(self):
        m1, m2 = self.start_milters(2)
        pids = [m.proc.pid for m in (m1, m2)]
        for m in (m1, m2):
            self.assert_allowed(m, "before the fault")
        killed = PG.superuser_sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE application_name = 'aamp-milter' AND pid <> pg_backend_pid()")
        self.assertGreaterEqual(int(killed), 2, "each milter had a connection to kill")
        for m, pid in zip((m1, m2), pids):
            eom, s = self.dispatch(m)
            # The next message either finds the broken connection (tempfail) or a new one.
            self.assertIn((eom, s["verdict"]), {("continue", "allow"), ("replycode", "store-error")}, m.log())
            self.assert_recovers(m, pid, "after its backend was terminated")
        self.assert_change_reaches(m1, m2)
        for m in (m1, m2):
            self.assert_no_password(m.log(), "the milter's log")

    def test_multi_host_connection_string_first_host_refusing(self):
        dead = free_port()  # nothing listens there: the connection is refused
        url = self.url_for(f"127.0.0.1:{dead},127.0.0.1:{PG.port}", "?target_session_attrs=read-write")
        ctl = PolicyDb(url)
        self.assertIn("agent@example.test", ctl.ctl("mailbox", "list"))
        ctl.add_mailbox("pairs@example.test")
        code = json.loads(ctl.ctl("--json", "pair", "issue", "--mailbox", "pairs@example.test", "--ttl", "1h"))["code"]
        m, = self.start_milters(1, database=url)
        self.assert_allowed(m, "through the second host")
        eom, s = self.run_on(m, self.pair_request("pairs@example.test", "bob@partner.test", code))
        self.assertEqual((eom, s["verdict"]), ("discard", "pair-completed"), m.log())
        self.assert_each_reply_delivered_once()
        self.assert_no_password(m.log(), "the milter's log")

    def test_password_never_shown(self):
        """In the URL form and in libpq's keyword form, given to the milter (Database) and
        to aampctl (--db, or -c with the milter's configuration), the database working or
        not: the password is shown nowhere, the database is named with *** in its place."""
        keywords = f"host=127.0.0.1 port={PG.port} dbname={self.dbname} user=aamp password={PG.password}"
        by_url, = self.start_milters(1)
        by_keywords, = self.start_milters(1, database=keywords)
        shown = {by_url: f"postgresql://aamp:***@127.0.0.1:{PG.port}/{self.dbname}",
                 by_keywords: f"host=127.0.0.1 port={PG.port} dbname={self.dbname} user=aamp password=***"}
        for m in (by_url, by_keywords):
            self.assert_allowed(m, "before the fault")
        outputs = []

        def ctl(*args: str, database: str | None = self.url) -> subprocess.CompletedProcess:
            where = ["--db", database] if database is not None else []
            p = subprocess.run([self.db.aampctl, *where, *args], capture_output=True, text=True, timeout=60)
            outputs.append((args, p))
            return p

        for database in (self.url, keywords):
            self.assertEqual(ctl("mailbox", "list", database=database).returncode, 0)
            self.assertEqual(ctl("--json", "audit", "export", database=database).returncode, 0)
        self.assertEqual(ctl("-c", str(by_url.config_path), "mailbox", "list", database=None).returncode, 0)
        for database in (self.url.replace(PG.password, "not-the-pw-42"),
                         keywords.replace(PG.password, "not-the-pw-42")):
            p = ctl("mailbox", "list", database=database)
            self.assertNotEqual(p.returncode, 0)
            self.assertNotIn("not-the-pw-42", p.stdout + p.stderr)
        p = ctl("mailbox", "list", database=self.url.replace(f":{PG.port}/", f":{PG.port}x/"))  # malformed
        self.assertNotEqual(p.returncode, 0)
        PG.halt()
        try:
            for m in (by_url, by_keywords):
                self.assert_tempfails(m, "the server is stopped")
            for database in (self.url, keywords):
                p = ctl("mailbox", "list", database=database)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(shown[by_url if database == self.url else by_keywords], p.stderr,
                              "aampctl names the database it could not reach")
                self.assertNotEqual(ctl("pair", "issue", "--mailbox", self.agent, database=database).returncode, 0)
            p = ctl("-c", str(by_url.config_path), "audit", database=None)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(shown[by_url], p.stderr)
        finally:
            PG.resume()
        for m in (by_url, by_keywords):
            self.assert_recovers(m, m.proc.pid, "after the server started again")
        for args, p in outputs:
            self.assert_no_password(p.stdout + p.stderr, f"aampctl {' '.join(args)}")
        for m in (by_url, by_keywords):
            log = m.log()
            self.assert_no_password(log, "the milter's log")
            self.assertIn(shown[m], log, "the log names the database, without its password")

    def test_server_restart_during_a_pairing_burst(self):
        """Best effort: the restart lands at some point of the burst (after a quarter of
        the attempts were answered). What must hold whatever it hit: no code consumed
        twice, no completed pairing the database does not know, no reply sent twice."""
        milters = self.start_milters(2, "PairMaxFailures 1000\nReplyPollInterval 1s\nReplyRetryInitial 1s\n")
        mailboxes = [f"burst{i:02d}@example.test" for i in range(40)]  # the burst outlasts the outage
        self.add_mailboxes(mailboxes)
        codes = self.issue_codes(mailboxes)
        # Mailbox after mailbox: codes are redeemed before, during and after the restart.
        attempts = [(mb, f"req{j}.{i:02d}@partner{j}.test") for i, mb in enumerate(mailboxes) for j in range(5)]

        answered = threading.Semaphore(0)
        halting, restarted = threading.Event(), threading.Event()

        phase = Counter()  # (when the answer came: before/during/after the outage, verdict)
        phase_mu = threading.Lock()

        def attempt(k: int) -> tuple[str, dict]:
            try:
                mb, req = attempts[k]
                eom, s = self.run_on(milters[k % 2], self.pair_request(mb, req, codes[mb]))
                when = "after" if restarted.is_set() else "during" if halting.is_set() else "before"
                with phase_mu:
                    phase[(when, s["verdict"])] += 1
                return eom, s
            finally:
                answered.release()

        def restart():
            for _ in range(len(attempts) // 4):
                if not answered.acquire(timeout=BURST_PATIENCE):
                    return
            halting.set()
            PG.halt()
            time.sleep(1.0)
            PG.resume()
            restarted.set()

        restarter = threading.Thread(target=restart)
        restarter.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(POOL) as pool:
                results = list(pool.map(attempt, range(len(attempts)), timeout=BURST_PATIENCE))
        finally:
            restarter.join(BURST_PATIENCE)
            self.make_sure_server_runs()
        self.assertTrue(restarted.is_set(), "the server was restarted during the burst")
        first = dict(sorted(phase.items()))

        # The MTA retries what was tempfailed, until each attempt has a final answer.
        pending = [k for k, (_, s) in enumerate(results) if s["verdict"] == "store-error"]
        retried = len(pending)
        deadline = time.monotonic() + BURST_PATIENCE
        while pending:
            self.assertLess(time.monotonic(), deadline, f"attempts still tempfailed: {pending}")
            with concurrent.futures.ThreadPoolExecutor(POOL) as pool:
                again = list(pool.map(attempt, pending, timeout=BURST_PATIENCE))
            pending = [k for k, (_, s) in zip(pending, again) if s["verdict"] == "store-error"]
            if pending:
                time.sleep(0.5)

        # Every code consumed exactly once; one completed audit row and one completed reply per code.
        listed = json.loads(self.db.ctl("--json", "pair", "list"))
        self.assertEqual(sorted(c["state"] for c in listed), ["used"] * len(mailboxes))
        consumed_by = {c["mailbox"]: c["consumedBy"] for c in listed}
        completed = self.sql("SELECT recipient, auth_user FROM audit WHERE verdict = 'pair-completed'")
        self.assertEqual(sorted(r for r, _ in completed), sorted(mailboxes), "one pair-completed row per code")
        self.assertEqual(dict((r, u) for r, u in completed), consumed_by)
        replies = self.sql("SELECT from_addr, to_addr FROM outbox WHERE status = 'completed'")
        self.assertEqual(sorted(f for f, _ in replies), sorted(mailboxes), "one completed pair.respond per code")
        self.assertEqual(dict((f, t) for f, t in replies), consumed_by)
        # What the milters answered "completed" the database committed.
        told = [attempts[k] for k, (_, s) in enumerate(results) if s["verdict"] == "pair-completed"]
        for mb, req in told:
            self.assertEqual(consumed_by[mb], req)
        self.assert_each_reply_delivered_once()
        for m in milters:
            self.assertIsNone(m.proc.poll(), m.log())
            self.assert_no_password(m.log(), "the milter's log")
        print(f"\n  first answers (when, verdict): {first}; {retried} retried after the restart", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
