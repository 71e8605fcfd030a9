"""test_moved_policy — moving from SQLite to PostgreSQL without reissuing codes, through the
real daemon: a code issued with aampctl on a SQLite file, the policy exported, imported
into a PostgreSQL database (tests/pg_cluster.py), and aamp-milter started on that database
redeems the code once (a second use is refused), lets the configured sender dispatch and
the paired requester too; its log never shows the connection string's password.
"""

import itertools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

from milter_harness import Milter, Transaction, aamp_headers

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import pg_cluster  # noqa: E402

AAMPCTL = os.environ.get("AAMPCTL", "")
_names = itertools.count(1)


def ctl(db, *args, stdin=None):
    p = subprocess.run([AAMPCTL, "--db", db, *args], capture_output=True, text=True, timeout=60, input=stdin)
    if p.returncode != 0:
        raise AssertionError(f"aampctl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p.stdout


class MovedPolicy(unittest.TestCase):
    def setUp(self):
        if not AAMPCTL or not os.access(AAMPCTL, os.X_OK):
            self.fail(f"no aampctl binary (AAMPCTL={AAMPCTL!r})")
        self.tmp = tempfile.TemporaryDirectory(prefix="aamp-moved-")
        self.addCleanup(self.tmp.cleanup)
        self.pg = pg_cluster.shared()
        name = f"moved_{os.getpid()}_{next(_names)}"
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.pg.dir, "-p", str(self.pg.port),
                        "-U", "postgres", "-d", "postgres", "-c", f"CREATE DATABASE {name} OWNER aamp"],
                       check=True, capture_output=True, text=True, timeout=60)
        self.url = self.pg.url[: -len("aamp")] + name

    def test_a_code_issued_on_sqlite_is_redeemed_once_through_a_milter_on_postgresql(self):
        sqlite_db = os.path.join(self.tmp.name, "policy.db")
        ctl(sqlite_db, "init")
        ctl(sqlite_db, "mailbox", "add", "agent@example.test")
        ctl(sqlite_db, "sender", "allow", "--mailbox", "agent@example.test", "alice@example.test")
        code = json.loads(ctl(sqlite_db, "--json", "pair", "issue", "--mailbox", "agent@example.test",
                              "--ttl", "1h"))["code"]
        document = ctl(sqlite_db, "export")

        ctl(self.url, "init")
        summary = json.loads(ctl(self.url, "--json", "import", "-", stdin=document))
        self.assertEqual(summary["pairCodes"]["added"], 1)

        milter = Milter(database=self.url)
        self.addCleanup(milter.close)
        milter.start()
        alice = Transaction(mail_from="<alice@example.test>", mail_macros={"{auth_authen}": "alice@example.test"},
                            headers=aamp_headers(task_id="from-alice"))
        self.assertEqual(milter.run(alice).eom, "continue")
        self.assertEqual(milter.summary(alice.queue_id)["verdict"], "allow")

        bob = {"{auth_authen}": "bob@partner.test"}

        def pair_request(task):
            return Transaction(mail_from="<bob@partner.test>", mail_macros=bob,
                               headers=aamp_headers("pair.request", task, "Bob <bob@partner.test>",
                                                    extra=[("X-AAMP-Pair-Code", code)]))

        first = pair_request("pair-1")
        self.assertEqual(milter.run(first).eom, "discard")
        self.assertEqual(milter.summary(first.queue_id)["verdict"], "pair-completed")
        second = pair_request("pair-2")
        milter.run(second)
        self.assertEqual(milter.summary(second.queue_id)["verdict"], "pair-rejected")

        dispatch = Transaction(mail_from="<bob@partner.test>", mail_macros=bob,
                               headers=aamp_headers(sender="bob@partner.test", task_id="after-pairing"))
        self.assertEqual(milter.run(dispatch).eom, "continue")
        self.assertEqual(milter.summary(dispatch.queue_id)["verdict"], "allow")

        # The pairing is a rule in PostgreSQL now, from the code the SQLite file issued.
        rules = json.loads(ctl(self.url, "--json", "sender", "list"))
        self.assertEqual(sorted((r["pattern"], r["origin"]) for r in rules),
                         [("alice@example.test", "configured"), ("bob@partner.test", "paired")])
        self.assertNotIn(self.pg.password, milter.log())


if __name__ == "__main__":
    unittest.main()
