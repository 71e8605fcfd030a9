"""test_soak_short — the CI-sized run of tests/soak/postfix_soak.py: 1,500 messages of the
realistic mix through a real Postfix and the real aamp-milter, then the soak's checks
(every message accepted, rejected or tempfailed; what was accepted delivered or answered;
no descriptor growth at idle; the milter alive). The long run is on demand (docs/reliability.md).
"""

import json
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "soak"))

import postfix_soak  # noqa: E402


class ShortSoakTest(unittest.TestCase):
    MESSAGES = 1500
    SECONDS = 90  # the sending bound; at ~150 msg/s on 2 cores it needs about 10 s

    @classmethod
    def setUpClass(cls):
        for name in ("AAMP_MILTER", "AAMPCTL"):
            if not os.environ.get(name):
                raise unittest.SkipTest(f"{name}: no such target in this build")
        cls.result = postfix_soak.run_soak(cls.MESSAGES, cls.SECONDS, sessions=4, warmup=300)
        cls.summary = cls.result.summary()

    def describe(self):
        return json.dumps(self.summary, indent=1)

    def test_every_message_was_sent_within_the_bound(self):
        self.assertEqual(self.result.sent, self.MESSAGES, self.describe())

    def test_every_message_has_an_smtp_outcome(self):
        counted = sum(self.result.outcomes[k] for k in ("accepted", "rejected", "tempfailed"))
        self.assertEqual(self.result.outcomes["error"], 0, self.describe())
        self.assertEqual(counted, self.result.sent, self.describe())

    def test_each_kind_of_message_got_the_expected_outcome(self):
        self.assertEqual(self.result.unexpected, [], self.describe())

    def test_accepted_mail_is_delivered_exactly_once(self):
        self.assertEqual(self.result.delivered, self.result.expected_delivered, self.describe())

    def test_every_accepted_pair_request_is_answered_once(self):
        self.assertEqual(self.result.replies, self.result.expected_replies, self.describe())
        self.assertGreater(self.result.replies_completed, 0, self.describe())

    def test_no_descriptor_growth_at_idle(self):
        _, other_before = postfix_soak.split_fds(self.result.fd_kinds_before)
        db_after, other_after = postfix_soak.split_fds(self.result.fd_kinds_after)
        self.assertLessEqual(other_after, other_before, self.describe())
        self.assertLessEqual(db_after, postfix_soak.DB_FDS_BOUND, self.describe())

    def test_the_milter_stayed_up(self):
        self.assertTrue(self.result.milter_alive, self.describe())


if __name__ == "__main__":
    unittest.main()
