"""test_deploy_postfix — the shipped Postfix snippets (deploy/postfix-main.cf.snippet,
deploy/postfix-master.cf.snippet) as Postfix's own postconf reads them from a config
directory of their own: no warning; the filter on smtpd_milters and non_smtpd_milters;
the macros the filter needs; the submission (587) and submissions (465) services present,
with SASL, and none of them taking the filter away (no smtpd_milters override, no
receive_override_options with no_milters), so that submitted mail is checked and the
threads of local dispatchers are recorded (docs/operations.md, "Thread binding").
"""

import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

SOURCE = Path(os.environ.get("AAMP_SOURCE_DIR", Path(__file__).resolve().parents[2]))
MAIN = SOURCE / "deploy" / "postfix-main.cf.snippet"
MASTER = SOURCE / "deploy" / "postfix-master.cf.snippet"
FILTER = "inet:127.0.0.1:8891"
SUBMISSION_SERVICES = ("submission/inet", "submissions/inet")


@unittest.skipUnless(shutil.which("postconf"), "postconf (Postfix) is not installed")
class PostfixSnippets(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="aamp-postfix-")
        self.addCleanup(tmp.cleanup)
        self.dir = Path(tmp.name)
        shutil.copy(MAIN, self.dir / "main.cf")
        shutil.copy(MASTER, self.dir / "master.cf")

    def postconf(self, *args: str) -> str:
        p = subprocess.run(["postconf", "-c", str(self.dir), *args], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"postconf {' '.join(args)}: {p.stderr}")
        self.assertEqual(p.stderr, "", f"postconf {' '.join(args)} warns")
        return p.stdout

    def service_settings(self) -> dict[str, dict[str, str]]:
        """`postconf -P`: service/type -> {parameter: value} of its -o overrides."""
        out: dict[str, dict[str, str]] = {}
        for line in self.postconf("-P").splitlines():
            key, _, value = line.partition("=")  # "name =" when the value is empty
            service, kind, name = key.strip().split("/", 2)
            out.setdefault(f"{service}/{kind}", {})[name] = value.strip()
        return out

    def test_main_cf_snippet_reads_cleanly_and_names_the_filter(self):
        self.postconf("-n")
        self.assertEqual(self.postconf("-xh", "smtpd_milters").strip(), FILTER)
        self.assertEqual(self.postconf("-xh", "non_smtpd_milters").strip(), FILTER)
        self.assertEqual(self.postconf("-h", "milter_default_action").strip(), "tempfail")
        self.assertIn("{auth_authen}", self.postconf("-h", "milter_mail_macros").split())

    def test_submission_services_exist_with_sasl(self):
        services = {" ".join(line.split()[:2]) for line in self.postconf("-Mf").splitlines()
                    if line and not line[0].isspace()}
        self.assertEqual(services, {"submission inet", "submissions inet"})
        settings = self.service_settings()
        for service in SUBMISSION_SERVICES:
            with self.subTest(service):
                self.assertEqual(settings[service].get("smtpd_sasl_auth_enable"), "yes")
                self.assertEqual(settings[service].get("smtpd_client_restrictions"),
                                 "permit_sasl_authenticated,reject")

    def test_submission_services_keep_the_filter(self):
        settings = self.service_settings()
        for service in SUBMISSION_SERVICES:
            with self.subTest(service):
                overrides = settings[service]
                self.assertNotIn("smtpd_milters", overrides, "the filter comes from main.cf")
                self.assertNotIn("no_milters", overrides.get("receive_override_options", ""))
        # What smtpd of each service runs with: main.cf's value, the filter.
        for name in ("smtpd_milters", "receive_override_options"):
            value = self.postconf("-xh", name).strip()
            self.assertEqual(value, FILTER if name == "smtpd_milters" else "", name)


if __name__ == "__main__":
    unittest.main()
