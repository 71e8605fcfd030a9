"""test_systemd — aamp-milter as the shipped unit (deploy/aamp-milter.service) runs it:
readiness over the sd_notify protocol (a NOTIFY_SOCKET datagram socket the test owns),
SIGHUP reloading like SIGUSR1, STOPPING=1 and exit status 0 on SIGTERM, no second copy of
each log line when standard error is the journal, and every system call the daemon makes
allowed by the unit's SystemCallFilter= (strace against `systemd-analyze syscall-filter`:
this machine has no systemd as PID 1 to start the daemon under the real filter).
"""

import grp
import os
import pwd
import queue
import re
import signal
import socket
import subprocess
import threading
import unittest
from pathlib import Path

from milter_harness import PATIENCE, Milter, Transaction, aamp_headers, run_transaction, wait_until

SOURCE = Path(os.environ.get("AAMP_SOURCE_DIR", Path(__file__).resolve().parents[2]))
UNIT = SOURCE / "deploy" / "aamp-milter.service"
STRANGER = dict(mail_from="<mallory@example.test>", headers=aamp_headers(sender="mallory@example.test"),
                mail_macros={"{auth_authen}": "mallory@example.test"})


class Notifications:
    """The datagram socket a service manager listens on, read at once by a thread of its own
    as systemd does (a full socket queue would block the daemon's sd_notify); each message
    as a dict, in order."""

    def __init__(self, directory: Path):
        self.path = directory / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.received: list[dict[str, str]] = []
        self.queue: "queue.Queue[dict[str, str]]" = queue.Queue()
        self.closed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        self.sock.settimeout(0.2)  # to notice close()
        while not self.closed.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queue.put(dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = str(self.path)
        env.pop("JOURNAL_STREAM", None)
        return env

    def next(self, timeout: float = PATIENCE) -> dict[str, str]:
        try:
            message = self.queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no notification within {timeout}s; so far {self.received}") from None
        self.received.append(message)
        return message

    def wait_for(self, key: str) -> dict[str, str]:
        while True:
            message = self.next()
            if message.get(key) == "1":
                return message

    def close(self) -> None:
        self.closed.set()
        self.reader.join(PATIENCE)
        self.sock.close()


def accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Readiness(unittest.TestCase):
    def setUp(self):
        self.m = Milter()
        self.notes = Notifications(self.m.root)

    def tearDown(self):
        self.notes.close()
        self.m.close()

    def test_ready_reload_on_hup_and_stopping(self):
        m, notes = self.m, self.notes
        agent = m.db.add_mailbox("agent@example.test")
        m.db.allow(agent, "alice@example.test")
        m.start(env=notes.env())
        ready = notes.next()
        # The first message is READY=1, and the milter socket accepts by then.
        self.assertEqual(ready.get("READY"), "1", notes.received)
        self.assertTrue(accepts(m.port), "READY=1 before the milter socket accepts")
        self.assertIn(f"listening on inet:{m.port}@127.0.0.1", ready.get("STATUS", ""))
        tx = Transaction(**STRANGER)
        self.assertEqual(m.run(tx).eom, "replycode")

        # kill -HUP reloads: RELOADING=1, then READY=1; the new Mode applies; still running.
        m.write_config(m.config_text + "Mode report\n")
        m.signal(signal.SIGHUP)
        reloading = notes.next()
        self.assertEqual(reloading.get("RELOADING"), "1", notes.received)
        self.assertRegex(reloading.get("MONOTONIC_USEC", ""), r"^\d+$")
        self.assertEqual(notes.next().get("READY"), "1", notes.received)
        self.assertIn("configuration reloaded", m.log())
        self.assertIsNone(m.proc.poll())
        tx = Transaction(**STRANGER)
        r = m.run(tx)
        self.assertEqual(r.eom, "continue", r.stdout)
        self.assertEqual(m.summary(tx.queue_id)["verdict"], "report-deny")

        # A burst of HUPs never stops the daemon; one sent after the last configuration
        # change is answered by a reload that reads it (HUPs sent together coalesce).
        for _ in range(20):
            m.signal(signal.SIGHUP)
        m.write_config(m.config_text.replace("Mode report\n", ""))
        m.signal(signal.SIGHUP)

        def enforcing():
            self.assertIsNone(m.proc.poll(), m.log())
            return m.run(Transaction(**STRANGER)).eom == "replycode"

        wait_until(enforcing, PATIENCE, "the reload after the burst to apply Mode enforce", interval=0.2)
        self.assertIsNone(m.proc.poll(), m.log())
        self.assertNotIn("libmilter stopped", m.log())
        # USR1 still reloads too.
        before = m.log().count("configuration reloaded")
        m.signal(signal.SIGUSR1)
        wait_until(lambda: m.log().count("configuration reloaded") > before or m.proc.poll() is not None, PATIENCE,
                   "a reload on SIGUSR1")
        self.assertIsNone(m.proc.poll(), m.log())

        # SIGTERM: STOPPING=1, exit status 0.
        m.signal(signal.SIGTERM)
        notes.wait_for("STOPPING")
        self.assertEqual(m.proc.wait(PATIENCE), 0, m.log())

    def test_ready_with_an_unavailable_database_says_so(self):
        m, notes = self.m, self.notes
        m.write_config(m.config_text.replace(f"Database {m.database}", f"Database {m.root}/missing/aamp.db"))
        m.start(env=notes.env())
        ready = notes.next()
        self.assertEqual(ready.get("READY"), "1", notes.received)
        self.assertIn("database unavailable", ready.get("STATUS", ""))
        m.signal(signal.SIGTERM)
        self.assertEqual(m.proc.wait(PATIENCE), 0, m.log())

    def test_no_notify_socket_no_notifications(self):
        env = self.notes.env()
        del env["NOTIFY_SOCKET"]
        self.m.start(env=env)
        self.m.signal(signal.SIGHUP)
        self.m.wait_log("configuration reloaded")
        self.assertEqual(self.m.stop(), 0, self.m.log())
        self.assertEqual(self.notes.queue.qsize(), 0, "a notification without NOTIFY_SOCKET")


class JournalStream(unittest.TestCase):
    """With -f, standard error gets each line, except when syslog is on and standard error
    is the journal ($JOURNAL_STREAM = DEV:INO of standard error)."""

    def run_daemon(self, syslog: bool, stream: str) -> str:
        m = Milter()
        notes = Notifications(m.root)
        try:
            m.write_config(m.config_text.replace("Syslog no", "Syslog yes" if syslog else "Syslog no"))
            stderr = m.root / "stderr"
            with open(stderr, "wb") as f:
                st = os.fstat(f.fileno())
                env = notes.env()
                env["JOURNAL_STREAM"] = stream.format(dev=st.st_dev, ino=st.st_ino)
                proc = subprocess.Popen([m.binary, "-f", "-c", str(m.config_path)], stdin=subprocess.DEVNULL,
                                        stdout=f, stderr=f, env=env)
            try:
                self.assertEqual(notes.next().get("READY"), "1")  # "started" is written by then
                proc.send_signal(signal.SIGHUP)
                notes.wait_for("READY")                             # and "configuration reloaded"
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(PATIENCE), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            return stderr.read_text()
        finally:
            notes.close()
            m.close()

    def test_syslog_and_journal_stream_no_stderr_copy(self):
        self.assertEqual(self.run_daemon(True, "{dev}:{ino}"), "")

    def test_stderr_kept_when_it_is_the_only_copy_in_the_journal(self):
        out = self.run_daemon(False, "{dev}:{ino}")
        self.assertIn(" started: ", out)
        self.assertIn("configuration reloaded", out)

    def test_stderr_kept_when_it_is_not_the_journal(self):
        out = self.run_daemon(True, "{dev}:1{ino}")
        self.assertIn(" started: ", out)
        self.assertIn("configuration reloaded", out)


def filter_groups(name: str, cache: dict) -> set[str]:
    """The system calls of a group (recursively), as systemd-analyze lists them."""
    if name in cache:
        return cache[name]
    p = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", name], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"systemd-analyze syscall-filter {name}: {p.stderr}")
    calls: set[str] = set()
    for line in p.stdout.splitlines()[1:]:
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        calls |= filter_groups(word, cache) if word.startswith("@") else {word}
    cache[name] = calls
    return calls


def unit_syscall_filter(unit_text: str) -> set[str]:
    """What the unit's SystemCallFilter= lines allow, applied in order as systemd does: the
    first line, an allow list, starts from @default; later lines add, or remove with '~'."""
    cache: dict = {}
    allowed: set[str] = set()
    first = True
    for line in unit_text.splitlines():
        m = re.match(r"^SystemCallFilter=(~?)(.*)$", line.strip())
        if not m:
            continue
        invert, words = m.group(1) == "~", m.group(2).split()
        if first:
            assert not invert, "the unit's filter must start as an allow list"
            allowed |= filter_groups("@default", cache)
            first = False
        calls = set().union(*(filter_groups(w, cache) if w.startswith("@") else {w} for w in words))
        allowed = allowed - calls if invert else allowed | calls
    assert not first, "no SystemCallFilter= in the unit"
    return allowed


class SyscallFilter(unittest.TestCase):
    def test_the_daemon_needs_no_system_call_the_unit_kills(self):
        """The unix-socket set-up (SocketOwner, so chown), a transaction, a reload by
        SIGHUP and a stop, under strace: every call must be in the unit's filter."""
        allowed = unit_syscall_filter(UNIT.read_text())
        self.assertIn("chown", allowed)
        m = Milter()
        try:
            sock = m.root / "milter.sock"
            owner = f"{pwd.getpwuid(os.getuid()).pw_name}:{grp.getgrgid(os.getgid()).gr_name}"
            m.write_config(m.config_text.replace(f"Socket inet:{m.port}@127.0.0.1",
                                                 f"Socket unix:{sock}\nSocketMode 0660\nSocketOwner {owner}"))
            trace = m.root / "strace"
            notes = Notifications(m.root)  # sd_notify's calls are traced too
            self.addCleanup(notes.close)
            m.start(env=notes.env(), wrapper=("strace", "-f", "-qq", "-e", "signal=none", "-o", str(trace)))
            self.assertEqual(notes.next().get("READY"), "1")
            r = run_transaction(f"unix:{sock}", Transaction(**STRANGER), m.root)
            self.assertEqual(r.eom, "continue", r.stdout)  # no mailbox: not AAMP mail
            # Signals go to the daemon, strace's child (strace does not pass them on).
            children = Path(f"/proc/{m.proc.pid}/task/{m.proc.pid}/children").read_text().split()
            self.assertEqual(len(children), 1, children)
            daemon = int(children[0])
            m.write_config(m.config_text + "Mode report\n")
            os.kill(daemon, signal.SIGHUP)
            m.wait_log("configuration reloaded")
            os.kill(daemon, signal.SIGTERM)
            self.assertEqual(m.proc.wait(PATIENCE), 0, m.log())  # strace exits with the daemon's status
            used = set()
            for line in trace.read_text().splitlines():
                call = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]", line)
                if call and call.group(1) != "exit":
                    used.add(call.group(1))
            self.assertTrue({"chown", "fchownat", "lchown", "fchown"} & used, "the daemon never chowned its socket")
            self.assertIn("bind", used)
            self.assertEqual(sorted(used - allowed), [], "system calls the unit's SystemCallFilter= kills")
        finally:
            m.close()

    def test_the_check_is_real_without_the_chown_line(self):
        unit = "\n".join(line for line in UNIT.read_text().splitlines() if line.strip() != "SystemCallFilter=@chown")
        self.assertNotIn("chown", unit_syscall_filter(unit))


if __name__ == "__main__":
    unittest.main()
