"""test_faults — issue 7 fault injection on the policy database, with the real aamp-milter
and a real SQLite file, driven by miltertest. For each fault: AAMP mail gets the configured
failure action (451 4.3.0 by default) with a log line that names the cause, plain mail
still flows, the milter does not crash, and the SAME process answers correctly once the
fault is cleared. (tests/blackbox/test_daemon.py covers a file that is not a database at
startup or replaced by garbage, and a directory in its place.)

Faults: the file removed while running; a restored copy the milter's account cannot write
(read-only); another process holding the write lock past BusyTimeout; damaged pages behind
an intact header (corrupt); no space left on the file system (a small tmpfs, mounted here:
the tests run as root; skipped with the reason when mounting is not permitted).
"""

import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from milter_harness import Milter, Transaction, aamp_headers, wait_until

ALICE = {"{auth_authen}": "alice@example.test"}
RETRY_PAUSE = 1.1  # the milter tries a failed open again at most once a second


class Fault(unittest.TestCase):
    """One milter per test, with agent@example.test protected and alice allowed."""

    def start(self, extra_config: str = "", database: str | None = None, setup: bool = True) -> Milter:
        m = Milter(extra_config, database=database)
        self.addCleanup(m.close)
        if setup:
            self.setup_policy(m)
        m.start()
        self.pid = m.proc.pid
        return m

    @staticmethod
    def setup_policy(m: Milter) -> None:
        m.db.ctl("init")
        agent = m.db.add_mailbox("agent@example.test")
        m.db.allow(agent, "alice@example.test")

    def dispatch(self, m: Milter) -> tuple[str, dict]:
        tx = Transaction(headers=aamp_headers(task_id=f"t-{time.monotonic_ns()}"), mail_macros=ALICE)
        r = m.run(tx)
        return r.eom, m.summary(tx.queue_id)

    def assert_allowed(self, m: Milter, what: str) -> None:
        eom, s = self.dispatch(m)
        self.assertEqual((eom, s["action"], s["verdict"]), ("continue", "accept", "allow"), f"{what}\n{m.log()}")

    def assert_tempfails(self, m: Milter, what: str, reason: str) -> dict:
        eom, s = self.dispatch(m)
        self.assertEqual(eom, "replycode", f"{what}\n{m.log()}")
        self.assertEqual((s["action"], s["reply"], s["verdict"]), ("tempfail", "451/4.3.0", "store-error"),
                         f"{what}\n{m.log()}")
        self.assertIn(reason, s["reason"], f"{what}: the summary line names the cause")
        # Plain mail does not need the database: it still flows.
        r = m.run(Transaction(headers=[("From", "bob@example.test")], mail_from="<bob@example.test>"))
        self.assertEqual(r.replies["eoh"], "accept", what)
        self.assert_same_process(m)
        return s

    def assert_same_process(self, m: Milter) -> None:
        self.assertIsNone(m.proc.poll(), f"aamp-milter died:\n{m.log()}")
        self.assertEqual(m.proc.pid, self.pid)

    @staticmethod
    def error_lines(m: Milter) -> list[str]:
        return [line for line in m.log().splitlines() if " error: " in line or line.startswith("error: ")]

    @staticmethod
    def remove_database(path: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)

    @staticmethod
    def backup(path: str, to: Path) -> None:
        """What `sqlite3 aamp.db ".backup FILE"` makes: a consistent copy."""
        src, dst = sqlite3.connect(path), sqlite3.connect(to)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()


class DatabaseFaults(Fault):
    def test_database_removed_while_running(self):
        m = self.start()
        self.assert_allowed(m, "before the fault")
        saved = m.root / "backup.db"
        self.backup(m.database, saved)

        self.remove_database(m.database)
        self.assert_tempfails(m, "the database file is gone", "No such file or directory")
        self.assertTrue(any("cannot open the database" in line and m.database in line for line in self.error_lines(m)),
                        m.log())
        self.assertFalse(Path(m.database).exists(), "an empty policy is never created behind the operator's back")

        # The operator restores the backup: the same process resumes.
        shutil.copyfile(saved, m.database + ".restore")
        os.replace(m.database + ".restore", m.database)
        time.sleep(RETRY_PAUSE)
        self.assert_allowed(m, "after the restore")
        self.assertIn("is available again", m.log())
        self.assert_same_process(m)

    def test_read_only_database(self):
        # The usual way to get there: a backup restored as root for a milter that runs as
        # an unprivileged UserID. (Root writes whatever the mode says, so the milter drops
        # privileges here as it does in production.)
        nobody = pwd.getpwnam("nobody")
        tmp = tempfile.TemporaryDirectory(prefix="aamp-rodb-")
        self.addCleanup(tmp.cleanup)
        os.chmod(tmp.name, 0o755)
        state = Path(tmp.name) / "state"
        state.mkdir()
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        m = Milter("UserID nobody\n", database=str(state / "aamp.db"))
        self.addCleanup(m.close)
        self.setup_policy(m)
        os.chown(m.database, nobody.pw_uid, nobody.pw_gid)
        m.start()
        self.pid = m.proc.pid
        self.assert_allowed(m, "before the fault")

        saved = Path(tmp.name) / "backup.db"
        self.backup(m.database, saved)  # root's file, mode 0644: read-only for nobody
        self.remove_database(m.database)
        os.replace(saved, m.database)
        self.assert_tempfails(m, "a database the milter's account cannot write", "read-only")
        self.assertTrue(any("read-only" in line for line in self.error_lines(m)), m.log())

        os.chown(m.database, nobody.pw_uid, nobody.pw_gid)
        time.sleep(RETRY_PAUSE)
        self.assert_allowed(m, "after chown")
        self.assert_same_process(m)

    def test_database_locked_past_the_busy_timeout(self):
        m = self.start("BusyTimeout 300ms\n")
        self.assert_allowed(m, "before the fault")
        # Another process (aampctl, a backup script) holds the write lock.
        holder = subprocess.Popen(
            ["python3", "-c",
             "import sqlite3, sys\n"
             "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
             "c.execute('BEGIN EXCLUSIVE')\n"
             "print('locked', flush=True)\n"
             "sys.stdin.readline()\n"
             "c.execute('ROLLBACK')\n", m.database],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(holder.kill)
        self.assertEqual(holder.stdout.readline().strip(), "locked")
        try:
            started = time.monotonic()
            s = self.assert_tempfails(m, "the write lock held by another process", "busy")
            self.assertLess(time.monotonic() - started, 10, "bounded by BusyTimeout, not by the lock holder")
            self.assertIn("busy timeout", s["reason"])
        finally:
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(10)
        self.assert_allowed(m, "after the lock is released")
        self.assert_same_process(m)

    def test_corrupt_database(self):
        m = self.start()
        self.assert_allowed(m, "before the fault")
        saved = m.root / "backup.db"
        self.backup(m.database, saved)

        # Damage every page but the first (the header and the schema stay readable: the
        # file opens, and the queries hit the damage), then put it in place the way a
        # restore does.
        damaged = m.root / "damaged.db"
        data = bytearray(saved.read_bytes())
        page = int.from_bytes(data[16:18], "big")
        page = 65536 if page == 1 else page
        self.assertGreater(len(data), page)
        for i in range(page, len(data)):
            data[i] = (i * 131 + 7) & 0xFF
        damaged.write_bytes(bytes(data))
        self.remove_database(m.database)
        os.replace(damaged, m.database)
        self.assert_tempfails(m, "damaged pages", "malformed")
        self.assertTrue(any("not an intact aamp-milter database" in line for line in m.log().splitlines()), m.log())

        self.remove_database(m.database)
        shutil.copyfile(saved, m.database + ".restore")
        os.replace(m.database + ".restore", m.database)
        time.sleep(RETRY_PAUSE)
        self.assert_allowed(m, "after the restore")
        self.assert_same_process(m)


class DiskFull(Fault):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        self.mnt = Path(tempfile.mkdtemp(prefix="aamp-full-"))
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(self.mnt)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest(f"cannot mount a tmpfs here: {p.stderr.strip()}")
        self.addCleanup(self.unmount)

    def unmount(self):
        subprocess.run(["umount", "-l", str(self.mnt)], check=False)
        os.rmdir(self.mnt)

    def fill(self) -> Path:
        filler = self.mnt / "filler"
        chunk = b"\0" * 65536
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    os.write(fd, chunk)
                except OSError:
                    chunk = chunk[: len(chunk) // 2]
                    if not chunk:
                        break
        finally:
            os.close(fd)
        self.assertEqual(os.statvfs(self.mnt).f_bavail, 0)
        return filler

    def test_disk_full(self):
        m = self.start(database=str(self.mnt / "aamp.db"))
        self.assert_allowed(m, "before the fault")
        filler = self.fill()
        s = self.assert_tempfails(m, "no space left for the audit row", "full")
        self.assertIn("disk or quota is full", s["reason"])
        # Every message keeps failing cleanly while the disk stays full.
        self.assert_tempfails(m, "still full", "full")

        filler.unlink()
        self.assert_allowed(m, "after space was freed")
        self.assert_same_process(m)


if __name__ == "__main__":
    unittest.main()
