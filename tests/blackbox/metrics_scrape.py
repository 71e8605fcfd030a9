"""metrics_scrape — GET /metrics and /healthz of a running aamp-milter (MetricsListen) and a
parser of the Prometheus text format 0.0.4, enough to check what the daemon exports.
Standard library only.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def get(url: str, timeout: float = 30.0) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


class Exposition:
    """families: name -> type; help: name -> text; samples: [(series name, {label: value}, value)]."""

    def __init__(self, text: str):
        self.families: dict[str, str] = {}
        self.help: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        if not text.endswith("\n"):
            raise AssertionError("exposition does not end in a newline")
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, text_ = line[7:].partition(" ")
                self.help[name] = text_
            elif line.startswith("# TYPE "):
                name, _, kind = line[7:].partition(" ")
                if name in self.families:
                    raise AssertionError(f"family {name} typed twice")
                self.families[name] = kind
            elif line.startswith("#") or not line:
                continue
            else:
                m = _SAMPLE.match(line)
                if not m:
                    raise AssertionError(f"not a sample line: {line!r}")
                labels = {}
                rest = m.group(2) or ""
                while rest:
                    lm = _LABEL.match(rest)
                    if not lm:
                        raise AssertionError(f"bad labels in {line!r}")
                    labels[lm.group(1)] = re.sub(r'\\(.)', lambda x: "\n" if x.group(1) == "n" else x.group(1),
                                                 lm.group(2))
                    rest = rest[lm.end():]
                self.samples.append((m.group(1), labels, float(m.group(3))))

    def series_names(self) -> set[str]:
        """Every name a PromQL query can use: each family, and a histogram's three series."""
        out = set()
        for name, kind in self.families.items():
            out.add(name)
            if kind == "histogram":
                out |= {name + "_bucket", name + "_sum", name + "_count"}
        return out

    def label_names(self) -> set[str]:
        return {k for _, labels, _ in self.samples for k in labels}

    def value(self, name: str, **labels: str) -> float:
        """The one sample of `name` whose labels include `labels`; 0 when there is none."""
        found = [v for n, ls, v in self.samples if n == name and all(ls.get(k) == x for k, x in labels.items())]
        if len(found) > 1:
            raise AssertionError(f"{name}{labels} matches {len(found)} samples")
        return found[0] if found else 0.0

    def total(self, name: str) -> float:
        return sum(v for n, _, v in self.samples if n == name)
