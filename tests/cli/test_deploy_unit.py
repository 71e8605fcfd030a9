"""test_deploy_unit — the shipped systemd unit (deploy/aamp-milter.service) as systemd reads
it: `systemd-analyze verify` on a copy whose ExecStart=/ExecStartPre= name the built binary
(verify fails when a command is not executable) must pass without a single warning, and the
unit says what docs/operations.md promises: Type=notify, reload by SIGHUP, the Postfix-spool
socket directory writable, chown allowed after ~@privileged, documentation the package
installs, the tmpfiles entry referenced.
"""

import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(os.environ.get("AAMP_SOURCE_DIR", Path(__file__).resolve().parents[2]))
UNIT = SOURCE / "deploy" / "aamp-milter.service"
BINARY = os.environ.get("AAMP_MILTER", "")


def settings(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split("=", 1)) for line in text.splitlines() if re.match(r"^[A-Z]\w*=", line)]


class Unit(unittest.TestCase):
    def setUp(self):
        self.text = UNIT.read_text()
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-unit-")
        self.addCleanup(self.tmp.cleanup)

    def verify(self, text: str) -> subprocess.CompletedProcess:
        path = Path(self.tmp.name) / "aamp-milter.service"
        path.write_text(text)
        return subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)], capture_output=True, text=True,
                              timeout=120)

    def test_systemd_analyze_verify(self):
        self.assertTrue(BINARY and os.access(BINARY, os.X_OK), f"AAMP_MILTER={BINARY!r}")
        self.assertIn("/usr/sbin/aamp-milter ", self.text)
        p = self.verify(self.text.replace("/usr/sbin/aamp-milter", BINARY))
        self.assertEqual((p.returncode, p.stderr), (0, ""), p.stdout)

    def test_verify_can_fail(self):
        # The check is real: without the binary, or with an unknown key, it complains.
        p = self.verify(self.text.replace("/usr/sbin/aamp-milter", "/nonexistent/aamp-milter"))
        self.assertNotEqual(p.returncode, 0)
        p = self.verify(self.text.replace("[Service]\n", "[Service]\nFrobnicate=yes\n") .replace(
            "/usr/sbin/aamp-milter", BINARY))
        self.assertIn("Unknown key", p.stderr)

    def test_what_the_docs_promise(self):
        s = settings(self.text)
        values = {}
        for key, value in s:
            values.setdefault(key, []).append(value)
        self.assertEqual(values["Type"], ["notify"])
        self.assertEqual(values["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(values["Restart"], ["on-failure"])
        self.assertIn("-/var/spool/postfix/aamp-milter", values["ReadWritePaths"][0].split())
        self.assertEqual(values["SystemCallFilter"], ["@system-service", "~@privileged", "@chown"])
        self.assertEqual(values["Documentation"],
                         ["man:aamp-milter(8) file:///usr/share/doc/aamp-milter/operations.md"])
        self.assertIn("aamp-milter.tmpfiles", self.text)
        tmpfiles = (SOURCE / "deploy" / "aamp-milter.tmpfiles").read_text()
        self.assertIn("/var/spool/postfix/aamp-milter", tmpfiles)
        # The operations guide the unit names covers it.
        ops = (SOURCE / "docs" / "operations.md").read_text()
        for needle in ("Type=notify", "SIGHUP", "JOURNAL_STREAM", "aamp-milter.tmpfiles", "SupplementaryGroups=postfix"):
            self.assertIn(needle, ops)


if __name__ == "__main__":
    unittest.main()
