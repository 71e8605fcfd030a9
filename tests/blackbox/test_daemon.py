"""test_daemon — aamp-milter as operators run it: the command line, the config check, the
reload on SIGUSR1, the graceful stop, an unusable database, sockets, detaching, privileges.
"""

import os
import pwd
import signal
import socket
import sqlite3
import stat
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

from milter_harness import PATIENCE, Milter, Transaction, aamp_headers, free_port, process_running, wait_until

BINARY = os.environ.get("AAMP_MILTER", "")
ALICE = {"{auth_authen}": "alice@example.test"}


def run(*args, timeout=20):
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout)


def milter_command(s: socket.socket, cmd: bytes, data: bytes) -> bytes:
    """Sends one milter protocol command and returns the reply's command byte."""
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
    header = s.recv(4, socket.MSG_WAITALL)
    size = struct.unpack(">I", header)[0]
    return s.recv(size, socket.MSG_WAITALL)[:1]


def threads_sleeping(pid: int) -> set[int]:
    """The process's threads that sleep in nanosleep now (SQLite's busy handler does)."""
    sleeping = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            if "nanosleep" in Path(f"/proc/{pid}/task/{tid}/wchan").read_text():
                sleeping.add(int(tid))
        except OSError:
            pass
    return sleeping

class CommandLine(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-cli-")
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def conf(self, text):
        p = self.dir / "aamp-milter.conf"
        p.write_text(text)
        return str(p)

    def test_version(self):
        p = run("-V")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout, r"^aamp-milter \d+\.\d+\.\d+ \(libmilter \d+\.\d+\.\d+\)\n$")

    def test_check_good_config(self):
        p = run("-n", "-c", self.conf(f"Database {self.dir}/aamp.db\nSocket inet:8891@127.0.0.1\n"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        self.assertFalse((self.dir / "aamp.db").exists(), "-n must not create the database")

    def test_check_bad_config_fails_with_the_reason(self):
        cases = [
            ("Database /tmp/x.db\nMode audit\n", ":2: Mode: expected enforce or report"),
            ("Database /tmp/x.db\nFrobnicate 1\n", ":2: unknown key 'Frobnicate'"),
            ("Socket inet:8891@127.0.0.1\n", "Database is required"),
            ("Database /tmp/x.db\nInternalHosts 10.0.0.0/99\n", ":2: InternalHosts: 10.0.0.0/99"),
            ("Database /tmp/x.db\nUserID no-such-user-aamp\n", "UserID: no user no-such-user-aamp"),
        ]
        for text, reason in cases:
            with self.subTest(reason=reason):
                p = run("-n", "-c", self.conf(text))
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(reason, p.stderr)

    def test_example_config_is_valid(self):
        example = Path(os.environ.get("AAMP_SOURCE_DIR", "../..")) / "deploy" / "aamp-milter.conf.example"
        p = run("-n", "-c", str(example))
        self.assertEqual(p.returncode, 0, p.stderr)
        # Every key of the example is a key the daemon knows: uncomment them all (the
        # repeated ReplyTransport example aside) and check again.
        lines, seen = [], set()
        for line in example.read_text().splitlines():
            body = line[1:] if line.startswith("#") and len(line) > 1 and line[1].isupper() else line
            key = body.split(None, 1)[0].lower() if body.strip() and not body.startswith("#") else None
            if key and key in seen:
                continue
            if key:
                seen.add(key)
            lines.append(body)
        (self.dir / "hosts").write_text("10.0.0.0/8\n")
        (self.dir / "logins").write_text("alice@example.com alice@example.com\n")
        text = "\n".join(lines)
        for old, new in (("aamp-milter:aamp-milter", "root"), ("postfix:postfix", "root:root"),
                         ("/etc/aamp-milter/internal-hosts", str(self.dir / "hosts")),
                         ("/etc/aamp-milter/sender-logins", str(self.dir / "logins")),
                         ("Socket                  inet:8891@127.0.0.1", f"Socket unix:{self.dir}/m.sock")):
            self.assertIn(old, text)
            text = text.replace(old, new)
        p = run("-n", "-c", self.conf(text))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreaterEqual(len(seen), 35)

    def test_check_warns_when_an_authenticated_reply_transport_meets_the_null_sender(self):
        # Stalwart's default mustMatchSender refuses an authenticated MAIL FROM:<> (501
        # 5.5.4): a warning, not an error (other servers accept it); `mailbox` silences it.
        secret = self.dir / "smtp.secret"
        secret.write_text("s3cret\n")
        base = (f"Database {self.dir}/aamp.db\n"
                f"ReplyTransport smtp://127.0.0.1:587 user=aamp-replies password-file={secret}\n")
        warning = "warning: ReplyTransport logs in (user=) but ReplyEnvelopeSender is null"
        for label, extra, warned in (("default null", "", True),
                                     ("explicit null", "ReplyEnvelopeSender null\n", True),
                                     ("mailbox", "ReplyEnvelopeSender mailbox\n", False)):
            with self.subTest(label):
                p = run("-n", "-c", self.conf(base + extra))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("configuration OK", p.stdout)
                self.assertEqual(warning in p.stderr, warned, p.stderr)
                if warned:
                    self.assertIn("such as Stalwart require the envelope sender to match the login", p.stderr)
                    self.assertNotIn("s3cret", p.stderr)
        for transport in ("smtp://127.0.0.1:25", "sendmail:/usr/sbin/sendmail"):
            with self.subTest(transport):
                p = run("-n", "-c", self.conf(f"Database {self.dir}/aamp.db\nReplyTransport {transport}\n"))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn("warning", p.stderr)

    def test_missing_config_file(self):
        p = run("-n", "-c", str(self.dir / "nope.conf"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot read", p.stderr)

    def test_socket_override_is_checked(self):
        p = run("-n", "-c", self.conf("Database /tmp/x.db\n"), "-p", "tcp:25")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("-p tcp:25: unknown socket type", p.stderr)

    def test_usage(self):
        p = run("-x")
        self.assertEqual(p.returncode, 64)
        self.assertIn("usage:", p.stderr)


class Running(unittest.TestCase):
    def test_sigterm_stops_gracefully(self):
        m = Milter().start()
        try:
            self.assertEqual(m.stop(), 0)
            self.assertIn("stopped", m.log())
        finally:
            m.close()

    def test_only_the_main_thread_can_take_the_daemons_signals(self):
        """HUP reloads only if no other thread can take it: libmilter's own signal thread
        would stop the milter on it (it sigwait()s for HUP, TERM and INT; the daemon links it
        with that call replaced). Every thread but the main one blocks the four signals, and
        none waits for them: the kernel shows a thread in sigwait with them unblocked."""
        with Milter() as m:
            m.run(Transaction())  # so that libmilter's connection threads have started too
            pid = m.proc.pid
            wanted = {signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT}
            tasks = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
            self.assertGreater(len(tasks), 2, "the daemon runs libmilter's threads")
            for tid in tasks:
                status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
                blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
                open_to = {s for s in wanted if not blocked & (1 << (s - 1))}
                if tid == pid:
                    self.assertEqual(open_to, wanted, "the main thread takes the four signals")
                else:
                    self.assertEqual(open_to, set(), f"thread {tid} could take {sorted(open_to)}:\n{status}")

    def test_sigterm_as_soon_as_started_stops_gracefully(self):
        """A SIGTERM sent the moment the daemon says it started (the daemon is still starting
        libmilter's threads) is taken by the daemon: "SIGTERM: stopping", exit status 0."""
        for attempt in range(5):
            m = Milter().start()
            try:
                self.assertEqual(m.stop(), 0, f"attempt {attempt}:\n{m.log()}")
                self.assertIn("SIGTERM: stopping", m.log())
            finally:
                m.close()

    def test_sigterm_does_not_wait_for_an_idle_mta_connection(self):
        """libmilter, once stopped, never calls back on an idle connection again, not even to
        close it: the daemon stops without waiting for one (its MTA applies its milter default
        action when the socket closes). A daemon that counted open connections waited its whole
        30 s drain for this one, which its MTA had closed a second after the SIGTERM."""
        m = Milter().start()
        try:
            with socket.create_connection(("127.0.0.1", m.port), timeout=PATIENCE) as s:
                self.assertEqual(milter_command(s, b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)), b"O")
                self.assertEqual(milter_command(s, b"C", b"client.example.test\0" + b"4" + struct.pack(">H", 25) + b"192.0.2.9\0"), b"c")
                m.signal(signal.SIGTERM)
                m.wait_log("SIGTERM: stopping")
                time.sleep(1)
            self.assertEqual(m.stop(), 0, m.log())
            self.assertIn("stopped", m.log())
            self.assertNotIn("stopping with", m.log(), "the drain waited for nothing")
        finally:
            m.close()

    def test_sigterm_lets_a_decision_under_way_finish(self):
        """A decision whose audit commit is under way when SIGTERM comes (here: waiting for a
        write lock another process holds) is finished, committed and answered before the
        store closes; the daemon then stops with status 0."""
        m = Milter("BusyTimeout 20s\n")
        try:
            agent = m.db.add_mailbox("agent@example.test")
            m.db.allow(agent, "alice@example.test")
            m.start()
            # Threads that sleep on their own (a sanitizer runtime's background thread does),
            # sampled for half a second: not the sign of a waiting commit.
            own_sleepers: set[int] = set()
            for _ in range(25):
                own_sleepers |= threads_sleeping(m.proc.pid)
                time.sleep(0.02)
            tx = Transaction(headers=aamp_headers(task_id="task-under-way"), mail_macros=ALICE)
            lock = sqlite3.connect(m.database, isolation_level=None, timeout=PATIENCE)
            lock.execute("BEGIN IMMEDIATE")  # every writer now waits in SQLite's busy handler
            result: dict = {}
            client = threading.Thread(target=lambda: result.update(r=m.run(tx)))
            client.start()
            try:
                # The decision's commit waits for the lock: one of the daemon's connection threads
                # sleeps in SQLite's busy handler.
                wait_until(lambda: threads_sleeping(m.proc.pid) - own_sleepers, PATIENCE,
                           "the audit commit to wait for the lock")
                m.signal(signal.SIGTERM)
                m.wait_log("stopping: waiting for the milter callbacks under way")
                time.sleep(1)
                self.assertIsNone(m.proc.poll(), f"the daemon waits for the decision under way:\n{m.log()}")
            finally:
                lock.execute("COMMIT")
                lock.close()
                client.join(PATIENCE * 2)
            self.assertEqual(result["r"].eom, "continue", m.log())
            summary = m.summary(tx.queue_id)
            self.assertEqual(summary["action"], "accept")
            self.assertEqual(m.stop(), 0, m.log())
            self.assertNotIn("stopping with", m.log())
            self.assertEqual([row["verdict"] for row in m.db.audit() if row["messageId"] == summary["id"]], ["allow"],
                             "its audit row was committed before the store closed")
        finally:
            m.close()

    def test_port_in_use_fails_at_startup(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            m = Milter()
            try:
                p = run("-f", "-c", str(m.config_path), "-p", f"inet:{port}@127.0.0.1")
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(f"cannot listen on inet:{port}@127.0.0.1", p.stderr)
            finally:
                m.close()

    def test_reload_on_sigusr1(self):
        m = Milter().start()
        try:
            agent = m.db.add_mailbox("agent@example.test")
            m.db.allow(agent, "alice@example.test")
            stranger = dict(mail_from="<mallory@example.test>", headers=aamp_headers(sender="mallory@example.test"),
                            mail_macros={"{auth_authen}": "mallory@example.test"})
            tx = Transaction(**stranger)
            self.assertEqual(m.run(tx).eom, "replycode")
            self.assertEqual(m.summary(tx.queue_id)["action"], "reject")

            m.write_config(m.config_text + "Mode report\n")
            m.signal(signal.SIGUSR1)
            m.wait_log("configuration reloaded")
            tx = Transaction(**stranger)
            r = m.run(tx)
            self.assertEqual(r.eom, "continue", r.stdout)
            self.assertIn("report mode", r.added["Authentication-Results"][0])
            self.assertEqual(m.summary(tx.queue_id)["verdict"], "report-deny")

            # A bad configuration is refused; the running one stays.
            m.write_config(m.config_text.replace("Mode report", "Mode bogus"))
            m.signal(signal.SIGUSR1)
            m.wait_log("reload refused")
            self.assertIn("Mode: expected enforce or report", m.log())
            tx = Transaction(**stranger)
            self.assertEqual(m.run(tx).eom, "continue")
            self.assertEqual(m.summary(tx.queue_id)["verdict"], "report-deny")
        finally:
            m.close()

    def test_reload_keeps_connections_in_flight_on_their_snapshot(self):
        # Two messages on one connection, a reload in between: both are judged by the
        # configuration the connection started with.
        m = Milter().start()
        try:
            m.db.add_mailbox("agent@example.test")
            port = m.port
            script = m.root / "inflight.lua"
            script.write_text(f"""
local conn = mt.connect("inet:{port}@127.0.0.1", 50, 0.1)
assert(conn, "connect")
assert(mt.conninfo(conn, "c.example.test", "192.0.2.9") == nil)
local function message(id)
  mt.macro(conn, SMFIC_MAIL, "{{auth_authen}}", "mallory@example.test")
  assert(mt.mailfrom(conn, "<mallory@example.test>") == nil)
  mt.macro(conn, SMFIC_RCPT, "i", id)
  assert(mt.rcptto(conn, "<agent@example.test>") == nil)
  for _, h in ipairs({{{{"From", "mallory@example.test"}}, {{"X-AAMP-Version", "1.1"}},
                       {{"X-AAMP-Intent", "task.dispatch"}}, {{"X-AAMP-TaskId", id}}}}) do
    assert(mt.header(conn, h[1], h[2]) == nil)
  end
  assert(mt.eoh(conn) == nil)
  assert(mt.eom(conn) == nil)
  print("EOM " .. id .. " " .. string.char(mt.getreply(conn)))
end
message("INFLIGHT1")
os.execute("sleep 1")  -- the test reloads meanwhile (it waits for this mark)
local f = io.open("{m.root}/mark", "w"); f:write("x"); f:close()
while io.open("{m.root}/reloaded") == nil do os.execute("sleep 0.05") end
message("INFLIGHT2")
mt.disconnect(conn)
""")
            p = subprocess.Popen(["miltertest", "-s", str(script)], stdout=subprocess.PIPE, text=True)
            wait_until(lambda: (m.root / "mark").exists(), 20, "the first message")
            m.write_config(m.config_text + "Mode report\n")
            m.signal(signal.SIGUSR1)
            m.wait_log("configuration reloaded")
            (m.root / "reloaded").write_text("x")
            out, _ = p.communicate(timeout=30)
            self.assertIn("EOM INFLIGHT1 y", out)
            self.assertIn("EOM INFLIGHT2 y", out)  # still enforce on this connection
            tx = Transaction(mail_from="<mallory@example.test>", headers=aamp_headers(sender="mallory@example.test"),
                             mail_macros={"{auth_authen}": "mallory@example.test"})
            self.assertEqual(m.run(tx).eom, "continue")  # a new connection: report mode
        finally:
            m.close()

    def test_unreadable_database_tempfails_and_recovers(self):
        tmp = tempfile.TemporaryDirectory(prefix="aamp-baddb-")
        db = Path(tmp.name) / "aamp.db"
        db.write_bytes(b"this is not an SQLite database\n" * 200)
        m = Milter(database=str(db)).start()
        try:
            self.assertIn("unavailable", m.log())
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE)
            r = m.run(tx)
            self.assertEqual(r.eom, "replycode", r.stdout)
            s = m.summary(tx.queue_id)
            self.assertEqual((s["action"], s["reply"], s["verdict"]), ("tempfail", "451/4.3.0", "store-error"))

            # Plain mail still flows.
            r = m.run(Transaction(headers=[("From", "bob@example.test")], mail_from="<bob@example.test>"))
            self.assertEqual(r.replies["eoh"], "accept")

            # The operator restores the database: service resumes without a restart.
            db.unlink()
            m.db.ctl("init")
            agent = m.db.add_mailbox("agent@example.test")
            m.db.allow(agent, "alice@example.test")
            time.sleep(1.1)  # past the one-second pause between attempts to open
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE)
            r = m.run(tx)
            self.assertEqual(r.eom, "continue", r.stdout + m.log())
            self.assertEqual(m.summary(tx.queue_id)["verdict"], "allow")
        finally:
            m.close()
            tmp.cleanup()

    def test_database_that_is_a_directory_tempfails(self):
        tmp = tempfile.TemporaryDirectory(prefix="aamp-dirdb-")
        m = Milter(database=tmp.name).start()
        try:
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE)
            self.assertEqual(m.run(tx).eom, "replycode")
            self.assertEqual(m.summary(tx.queue_id)["reply"], "451/4.3.0")
        finally:
            m.close()
            tmp.cleanup()

    def test_database_replaced_by_garbage_while_running(self):
        m = Milter().start()
        try:
            agent = m.db.add_mailbox("agent@example.test")
            m.db.allow(agent, "alice@example.test")
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE)
            self.assertEqual(m.run(tx).eom, "continue")
            for suffix in ("", "-wal", "-shm"):
                Path(m.database + suffix).unlink(missing_ok=True)
            Path(m.database).write_bytes(b"garbage" * 1000)
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE)
            self.assertEqual(m.run(tx).eom, "replycode")
            self.assertEqual(m.summary(tx.queue_id)["reply"], "451/4.3.0")
        finally:
            m.close()

    def test_on_store_error_accept_fails_open(self):
        tmp = tempfile.TemporaryDirectory(prefix="aamp-baddb-")
        m = Milter("On-StoreError accept\n", database=tmp.name).start()
        try:
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE)
            self.assertEqual(m.run(tx).eom, "continue")
            s = m.summary(tx.queue_id)
            self.assertEqual((s["action"], s["verdict"]), ("accept", "store-error"))
            self.assertIn("warning:", [l for l in m.log().splitlines() if tx.queue_id in l][0])
        finally:
            m.close()
            tmp.cleanup()

    def test_unix_socket_mode(self):
        m = Milter()
        path = m.root / "milter.sock"
        m.write_config(m.config_text.replace(f"Socket inet:{m.port}@127.0.0.1", f"Socket unix:{path}") +
                       "SocketMode 0620\n")
        try:
            m.start()
            st = os.stat(path)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o620)
            from milter_harness import run_transaction
            r = run_transaction(f"unix:{path}", Transaction(headers=[("From", "b@example.test")]), m.root)
            self.assertEqual(r.replies["eoh"], "accept")
        finally:
            m.close()

    def test_detaches_writes_pid_file_and_drops_privileges(self):
        m = Milter()
        pid_file = m.root / "aamp-milter.pid"
        os.chmod(m.root, 0o755)
        m.write_config(m.config_text + f"PidFile {pid_file}\nUserID nobody\n")
        nobody = pwd.getpwnam("nobody")
        os.chown(m.database, nobody.pw_uid, nobody.pw_gid)  # the operator gives the milter its database
        try:
            p = run("-c", str(m.config_path))  # no -f: detaches, exits when the child is ready
            self.assertEqual(p.returncode, 0, p.stderr)
            pid = int(pid_file.read_text())
            status = Path(f"/proc/{pid}/status").read_text()
            uid = pwd.getpwnam("nobody").pw_uid
            self.assertRegex(status, rf"\nUid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}\n")
            tx = Transaction(headers=aamp_headers(), mail_macros=ALICE, rcpt_macros={"i": "DETACHED1"})
            r = m.run(tx)
            self.assertEqual(r.eom, "continue", r.stdout)  # the database is writable after the drop
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda: not process_running(pid), PATIENCE, "the detached milter to stop")
        finally:
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            m.close()

    def test_detached_startup_failure_is_reported(self):
        m = Milter()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            try:
                p = run("-c", str(m.config_path), "-p", f"inet:{port}@127.0.0.1")
                self.assertEqual(p.returncode, 1)
                self.assertIn("cannot listen on", p.stderr)
            finally:
                m.close()


if __name__ == "__main__":
    unittest.main()
