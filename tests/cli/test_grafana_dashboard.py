"""test_grafana_dashboard — deploy/grafana/aamp-milter.json asks only for what aamp-milter
exports: every aamp_* name in its PromQL is a series of the real daemon's /metrics (started
with MetricsListen and scraped), every label it selects or groups by is one those series
carry (after one decided message), and every metric family is plotted.
"""

import json
import os
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "blackbox"))
from metrics_scrape import Exposition, get  # noqa: E402
from milter_harness import Milter, Transaction, aamp_headers, free_port  # noqa: E402

DASHBOARD = Path(os.environ.get("AAMP_SOURCE_DIR", Path(__file__).resolve().parents[2])) / "deploy/grafana/aamp-milter.json"
# Labels Prometheus itself attaches to every scraped series, and PromQL's own.
TARGET_LABELS = {"instance", "job", "le"}


def expressions(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expr", "query", "definition") and isinstance(v, str):
                yield v
            else:
                yield from expressions(v)
    elif isinstance(node, list):
        for v in node:
            yield from expressions(v)


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        port = free_port()
        milter = Milter(f"MetricsListen 127.0.0.1:{port}\n")
        cls.addClassCleanup(milter.close)
        milter.start()
        # One decided message: aamp_decisions_total has a series (with its labels) only once
        # something was decided.
        agent = milter.db.add_mailbox("agent@example.test")
        milter.db.allow(agent, "alice@example.test")
        tx = Transaction(headers=aamp_headers(), mail_macros={"{auth_authen}": "alice@example.test"})
        milter.run(tx)
        milter.summary(tx.queue_id)
        status, _, body = get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200, body
        cls.scrape = Exposition(body)
        cls.dashboard = json.loads(DASHBOARD.read_text())
        cls.exprs = list(expressions(cls.dashboard))

    def test_every_name_is_exported(self):
        self.assertTrue(self.exprs)
        exported = self.scrape.series_names()
        used = {n for e in self.exprs for n in re.findall(r"\baamp_[a-zA-Z0-9_]+", e)}
        self.assertTrue(used)
        self.assertEqual(used - exported, set(), f"names the daemon does not export; it exports {sorted(exported)}")

    def test_every_label_is_exported(self):
        labels = self.scrape.label_names() | TARGET_LABELS
        for e in self.exprs:
            for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", e):
                for label in filter(None, (x.strip() for x in group.split(","))):
                    self.assertIn(label, labels, e)
            for selector in re.findall(r"aamp_[a-zA-Z0-9_]+\{([^}]*)\}", e):
                for label in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector):
                    self.assertIn(label, labels, e)
            for label in re.findall(r"label_values\(\s*aamp_[a-zA-Z0-9_]+\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)", e):
                self.assertIn(label, labels, e)

    def test_every_family_is_plotted(self):
        plotted = {n for p in self.dashboard["panels"] for t in p.get("targets", [])
                   for n in re.findall(r"\baamp_[a-zA-Z0-9_]+", t["expr"])}
        for family, kind in self.scrape.families.items():
            series = {family + "_bucket"} if kind == "histogram" else {family}
            self.assertTrue(series & plotted, f"{family} is not plotted")


if __name__ == "__main__":
    unittest.main()
