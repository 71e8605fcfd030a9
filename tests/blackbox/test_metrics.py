"""test_metrics — MetricsListen: the real aamp-milter serves /metrics (Prometheus text 0.0.4)
and /healthz; decisions driven with miltertest move the counters with the right labels,
the latency histogram stays consistent, and /healthz turns 503 when the store breaks.
"""

import os
import signal
import unittest

from metrics_scrape import Exposition, get
from milter_harness import PATIENCE, Milter, Transaction, aamp_headers, free_port, wait_until

AUTH = {"{auth_authen}": "alice@example.test", "{auth_type}": "PLAIN"}


class Metrics(unittest.TestCase):
    def setUp(self):
        self.metrics_port = free_port()
        self.milter = Milter(f"MetricsListen 127.0.0.1:{self.metrics_port}\n")
        self.addCleanup(self.milter.close)
        self.milter.start()
        self.base = f"http://127.0.0.1:{self.metrics_port}"
        db = self.milter.db
        agent = db.add_mailbox("agent@example.test")
        db.allow(agent, "alice@example.test")

    def scrape(self) -> Exposition:
        status, ctype, body = get(self.base + "/metrics")
        self.assertEqual(status, 200, body)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        return Exposition(body)

    def run_tx(self, **kw):
        tx = Transaction(**kw)
        r = self.milter.run(tx)
        r.summary = self.milter.summary(tx.queue_id)
        return r

    def test_families_build_info_and_generation(self):
        m = self.scrape()
        expected = {"aamp_decisions_total": "counter", "aamp_refusals_total": "counter",
                    "aamp_store_errors_total": "counter", "aamp_decision_duration_seconds": "histogram",
                    "aamp_outbox_depth": "gauge", "aamp_outbox_oldest_age_seconds": "gauge",
                    "aamp_reply_sends_total": "counter", "aamp_mta_connections": "gauge",
                    "aamp_config_generation": "gauge", "aamp_build_info": "gauge"}
        self.assertEqual(m.families, expected)
        for name in expected:
            self.assertTrue(m.help.get(name), name)
        version = [ls["version"] for n, ls, v in m.samples if n == "aamp_build_info" and v == 1]
        self.assertEqual(len(version), 1, m.samples)
        self.assertIn(version[0], self.milter_version())
        self.assertEqual(m.value("aamp_config_generation"), 1)
        self.assertEqual(m.value("aamp_outbox_depth"), 0)
        self.assertEqual(m.value("aamp_mta_connections"), 0)
        for kind in ("unavailable", "busy", "corrupt", "full", "schema", "io"):
            self.assertEqual(m.value("aamp_store_errors_total", kind=kind), 0, kind)
        for result in ("reply-sent", "reply-deferred", "reply-abandoned"):
            self.assertEqual(m.value("aamp_reply_sends_total", result=result), 0, result)

        self.milter.signal(signal.SIGUSR1)
        self.milter.wait_log("configuration reloaded")
        self.assertEqual(self.scrape().value("aamp_config_generation"), 2)

    def milter_version(self) -> str:
        import subprocess
        return subprocess.run([self.milter.binary, "-V"], capture_output=True, text=True, timeout=30).stdout

    def test_decisions_refusals_and_latency(self):
        self.run_tx(headers=aamp_headers(), mail_macros=AUTH)                         # allow
        self.run_tx(headers=aamp_headers(), mail_macros=AUTH)                         # allow
        self.run_tx(mail_from="<mallory@example.test>", headers=aamp_headers(sender="mallory@example.test"),
                    mail_macros={"{auth_authen}": "mallory@example.test"})           # deny
        self.run_tx(headers=aamp_headers(intent="task.explode"), mail_macros=AUTH)   # invalid
        self.run_tx(headers=aamp_headers(intent="card.query"), mail_macros={})       # untrusted
        m = self.scrape()

        def decided(verdict, intent):
            return m.value("aamp_decisions_total", verdict=verdict, intent=intent, mode="enforce")

        self.assertEqual(decided("allow", "task.dispatch"), 2, m.samples)
        self.assertEqual(decided("deny", "task.dispatch"), 1, m.samples)
        # The header's text never becomes a label: an unknown intent is "other".
        self.assertEqual(decided("invalid", "other"), 1, m.samples)
        self.assertEqual(decided("untrusted", "card.query"), 1, m.samples)
        self.assertEqual(m.total("aamp_decisions_total"), 5, m.samples)
        self.assertNotIn("task.explode", str(m.samples))
        self.assertEqual(m.value("aamp_refusals_total", **{"class": "policy-deny"}), 2)
        self.assertEqual(m.value("aamp_refusals_total", **{"class": "bad-message"}), 1)

        # The histogram: cumulative buckets, +Inf == _count == decisions, a positive sum.
        buckets = [(ls["le"], v) for n, ls, v in m.samples if n == "aamp_decision_duration_seconds_bucket"]
        self.assertEqual(buckets[-1][0], "+Inf")
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts))
        bounds = [le for le, _ in buckets[:-1]]
        self.assertEqual([float(b) for b in bounds], sorted(float(b) for b in bounds))
        self.assertEqual(bounds[:3], ["0.0005", "0.001", "0.0025"])  # shortest spelling
        self.assertEqual(m.value("aamp_decision_duration_seconds_count"), 5)
        self.assertEqual(counts[-1], 5)
        self.assertGreater(m.value("aamp_decision_duration_seconds_sum"), 0)

        # Every connection miltertest opened was closed again.
        wait_until(lambda: self.scrape().value("aamp_mta_connections") == 0, PATIENCE, "connections back to 0")

    def test_report_mode_is_labelled(self):
        self.milter.write_config(self.milter.config_text + "Mode report\n")
        self.milter.signal(signal.SIGUSR1)
        self.milter.wait_log("configuration reloaded")
        self.run_tx(mail_from="<mallory@example.test>", headers=aamp_headers(sender="mallory@example.test"),
                    mail_macros={"{auth_authen}": "mallory@example.test"})
        m = self.scrape()
        self.assertEqual(m.value("aamp_decisions_total", verdict="report-deny", intent="task.dispatch",
                                 mode="report"), 1, m.samples)
        self.assertEqual(m.total("aamp_refusals_total"), 0)  # nothing refused in report mode

    def test_healthz_and_a_broken_store(self):
        status, _, body = get(self.base + "/healthz")
        self.assertEqual(status, 200, body)
        lines = body.splitlines()
        self.assertEqual([line.split(":")[0] for line in lines], ["store", "outbox-worker", "config"], body)
        self.assertTrue(lines[0].startswith("store: ok"), body)
        self.assertTrue(lines[1].startswith("outbox-worker: ok (last pass"), body)
        self.assertEqual(lines[2], "config: ok (generation 1)")

        # Other paths and methods.
        self.assertEqual(get(self.base + "/nothing")[0], 404)

        # The database removed under the running daemon: the store no longer answers.
        os.unlink(self.milter.database)
        status, _, body = get(self.base + "/healthz")
        self.assertEqual(status, 503, body)
        self.assertTrue(body.startswith("store: fail ("), body)
        self.assertIn("outbox-worker: ok", body)
        self.assertIn("config: ok", body)
        # AAMP mail now tempfails, and the store error is counted by kind.
        r = self.run_tx(headers=aamp_headers(), mail_macros=AUTH)
        self.assertEqual((r.summary["action"], r.summary["reply"]), ("tempfail", "451/4.3.0"), r.stdout)
        m = self.scrape()
        self.assertGreaterEqual(m.value("aamp_store_errors_total", kind="unavailable"), 1, m.samples)
        # The store would not open: the message was never read as AAMP, so its intent is "none".
        self.assertEqual(m.value("aamp_decisions_total", verdict="store-error", intent="none", mode="enforce"), 1,
                         m.samples)


class MetricsOff(unittest.TestCase):
    def test_no_listener_without_the_key(self):
        with Milter() as milter:
            self.assertNotIn("metrics and health on", milter.log())

    def test_bad_listen_spec_is_a_config_error(self):
        milter = Milter("MetricsListen localhost:http\n")
        try:
            import subprocess
            p = subprocess.run([milter.binary, "-n", "-c", str(milter.config_path)], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn("MetricsListen", p.stderr)
        finally:
            milter._tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
