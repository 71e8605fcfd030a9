#!/usr/bin/env python3
"""postfix_soak — a bounded soak of aamp-milter through a real Postfix (issue 7, "Soak").

Sends a realistic mix of mail (plain, allowed and refused dispatches, malformed AAMP,
result/ack traffic, pair.requests with wrong and valid codes) over several SMTP sessions,
then checks: every message sent was accepted, rejected or tempfailed (none lost); what was
accepted arrived (or was consumed, for pair.requests); every accepted pair.request got
exactly one pair.respond; milter RSS flat and no file-descriptor growth. Standard library
only; uses tests/e2e/aamp_stack.py. Bounded in message count AND wall time.

    tests/soak/postfix_soak.py --build-dir build --messages 100000 --seconds 900
"""

from __future__ import annotations

import argparse
import json
import os
import random
import smtplib
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import aamp_stack as s  # noqa: E402
import postfix_harness as h  # noqa: E402

N_AGENTS = 10
N_SENDERS = 8   # one authenticated sender and one requester per session thread, at most
OUTSIDE = "bob@outside.test"
RSS_SLACK_KB = 8192  # RSS may move this much (or 10%) between the two idle points
# The store opens up to 4 SQLite connections lazily (store/sqlite_store.hpp,
# max_connections), each holding the database and its WAL open, plus one shared -shm:
# database descriptors may grow after the warm-up up to this bound, nothing else may.
DB_FDS_BOUND = 2 * 4 + 1


def split_fds(kinds: dict) -> tuple[int, int]:
    """(database descriptors, all others) from MilterProcess.fd_kinds(). The reply
    worker's <Database>.outbox.lock (held from its first send on) counts as "other"."""
    db = sum(n for k, n in kinds.items()
             if Path(k).name.startswith("aamp.db") and not k.endswith(".lock"))
    return db, sum(kinds.values()) - db

# (kind, weight, expected outcome): "deliver" (250, lands in the agent's Maildir),
# "consume" (250, pair.request discarded at the MTA, answered by mail), "reject" (5xx).
# Weights in per mille. Pair requests are rare in real traffic; --pair-share raises them
# to load the reply worker (a sendmail(1) process per reply).
MIX = [
    ("plain", 450, "deliver"),             # ordinary mail to an agent, no AAMP headers
    ("dispatch_allowed", 300, "deliver"),  # authenticated sender with a configured rule
    ("dispatch_untrusted", 100, "reject"), # unauthenticated outsider: 550 5.7.1
    ("malformed", 50, "reject"),           # AAMP without TaskId: 554 5.6.0
    ("result", 70, "deliver"),             # task.result: not a guarded intent
    ("pair_wrong", 20, "consume"),         # wrong code: pair.respond rejected
    ("pair_valid", 10, "consume"),         # a code issued beforehand: pair.respond completed
]


def agent(i: int) -> str:
    return f"agent-{i}@{s.DOMAIN}"


def sender(i: int) -> str:
    return f"sender-{i}@{s.DOMAIN}"


def requester(i: int) -> str:
    return f"req-{i}@{s.DOMAIN}"


@dataclass
class Sample:
    t: float
    sent: int
    rss_kb: int
    fds: int
    threads: int
    outbox_pending: int = 0


@dataclass
class SoakResult:
    planned: int
    sent: int = 0
    outcomes: Counter = field(default_factory=Counter)       # accepted / rejected / tempfailed / error
    by_kind: dict = field(default_factory=dict)              # kind -> Counter of outcomes
    unexpected: list = field(default_factory=list)           # (kind, result) not as the mix says
    latencies_ms: list = field(default_factory=list)
    seconds_sending: float = 0.0
    seconds_total: float = 0.0
    delivered: int = 0
    expected_delivered: int = 0
    replies: int = 0
    expected_replies: int = 0
    replies_completed: int = 0
    samples: list = field(default_factory=list)
    idle_fds_before: int = 0   # at idle after the warm-up batch
    idle_fds_after: int = 0    # at idle after the soak
    fd_kinds_before: dict = field(default_factory=dict)
    fd_kinds_after: dict = field(default_factory=dict)
    warm_rss_kb: int = 0       # at idle after the warm-up batch
    milter_alive: bool = True
    log_bytes: int = 0
    seconds_setup: float = 0.0
    seconds_drain: float = 0.0   # from the last message sent to queue and outbox empty
    reply_rate: float = 0.0      # replies sent per second while the outbox had a backlog

    def problems(self) -> list[str]:
        out = []
        counted = sum(self.outcomes[k] for k in ("accepted", "rejected", "tempfailed"))
        if self.outcomes["error"]:
            out.append(f"{self.outcomes['error']} transactions ended without an SMTP answer")
        if counted + self.outcomes["error"] != self.sent:
            out.append(f"sent {self.sent} != accepted+rejected+tempfailed+errors {counted}")
        if self.delivered != self.expected_delivered:
            out.append(f"delivered {self.delivered} != accepted deliverable {self.expected_delivered}")
        if self.replies != self.expected_replies:
            out.append(f"pair.respond delivered {self.replies} != accepted pair.requests {self.expected_replies}")
        if self.unexpected:
            out.append(f"{len(self.unexpected)} messages had another outcome than expected, e.g. "
                       f"{self.unexpected[:3]}")
        _, other_before = split_fds(self.fd_kinds_before)
        db_after, other_after = split_fds(self.fd_kinds_after)
        if other_after > other_before:
            out.append(f"milter descriptors (not the database's) grew at idle: {other_before} -> "
                       f"{other_after} ({self.fd_kinds_before} -> {self.fd_kinds_after})")
        if db_after > DB_FDS_BOUND:
            out.append(f"{db_after} database descriptors at idle, more than the pool allows "
                       f"({DB_FDS_BOUND}): {self.fd_kinds_after}")
        if not self.milter_alive:
            out.append("the milter died")
        growth = self.rss_growth_kb()
        if growth is not None and growth > max(RSS_SLACK_KB, 0.10 * self.warm_rss_kb):
            out.append(f"milter RSS grew by {growth} kB after the warm-up")
        return out

    def rss_at(self, fraction: float):
        """RSS at the first sample after `fraction` of the messages were sent."""
        later = [x for x in self.samples if x.sent >= fraction * self.planned]
        return later[0].rss_kb if later else None

    def rss_growth_kb(self):
        """RSS at idle after the soak minus RSS at idle after the warm-up (allocator
        arenas, SQLite page caches and thread stacks are warm by then)."""
        if not self.samples or not self.warm_rss_kb:
            return None
        return self.samples[-1].rss_kb - self.warm_rss_kb

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
        return {
            "planned": self.planned, "sent": self.sent, "outcomes": dict(self.outcomes),
            "by_kind": {k: dict(v) for k, v in self.by_kind.items()},
            "unexpected": len(self.unexpected),
            "delivered": self.delivered, "expected_delivered": self.expected_delivered,
            "replies": self.replies, "expected_replies": self.expected_replies,
            "replies_completed": self.replies_completed,
            "seconds_setup": round(self.seconds_setup, 1),
            "seconds_sending": round(self.seconds_sending, 1),
            "seconds_drain": round(self.seconds_drain, 1),
            "seconds_total": round(self.seconds_total, 1),
            "outbox_pending_max": max((x.outbox_pending for x in self.samples), default=None),
            "reply_worker_per_s": round(self.reply_rate, 1),
            "msgs_per_s": round(self.sent / self.seconds_sending, 1) if self.seconds_sending else None,
            "latency_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": pct(1.0),
                           "mean": round(statistics.fmean(lat), 1) if lat else None},
            "rss_kb": {"start": self.samples[0].rss_kb if self.samples else None,
                       "after_warmup": self.warm_rss_kb,
                       "at_half": self.rss_at(0.5), "at_three_quarters": self.rss_at(0.75),
                       "max": max((x.rss_kb for x in self.samples), default=None),
                       "end": self.samples[-1].rss_kb if self.samples else None,
                       "growth_after_warmup": self.rss_growth_kb()},
            "fds": {"idle_after_warmup": self.idle_fds_before, "idle_after_soak": self.idle_fds_after,
                    "database_bound": DB_FDS_BOUND,
                    "max": max((x.fds for x in self.samples), default=None),
                    "kinds_after_warmup": self.fd_kinds_before, "kinds_after_soak": self.fd_kinds_after},
            "threads_max": max((x.threads for x in self.samples), default=None),
            "postfix_log_bytes": self.log_bytes,
            "problems": self.problems(),
        }


class Session:
    """One SMTP client thread's connections: plain port, and submission logged in as its
    sender and as its requester. Reconnects after `reuse` transactions or any failure."""

    def __init__(self, pf: h.PostfixInstance, index: int, reuse: int = 50) -> None:
        self.pf = pf
        self.index = index
        self.reuse = reuse
        self.conns: dict[str, tuple[smtplib.SMTP, int]] = {}

    def _conn(self, kind: str) -> smtplib.SMTP:
        c = self.conns.get(kind)
        if c and c[1] < self.reuse:
            self.conns[kind] = (c[0], c[1] + 1)
            return c[0]
        if c:
            self._drop(kind)
        port = self.pf.smtp_port if kind == "plain" else self.pf.submission_port
        client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        client.ehlo(f"soak{self.index}.example.test")
        if kind == "sender":
            client.login(*s.login_for(sender(self.index)))
        elif kind == "requester":
            client.login(*s.login_for(requester(self.index)))
        self.conns[kind] = (client, 1)
        return client

    def _drop(self, kind: str) -> None:
        c = self.conns.pop(kind, None)
        if c:
            try:
                c[0].quit()
            except (smtplib.SMTPException, OSError):
                c[0].close()

    def close(self) -> None:
        for kind in list(self.conns):
            self._drop(kind)

    def send(self, kind: str, mail_from: str, rcpt: str, data: bytes) -> tuple[int, str]:
        """(code, text) of the transaction's last answer; (0, error) when none came."""
        for attempt in (1, 2):  # a connection the server closed meanwhile is retried once
            try:
                client = self._conn(kind)
                code, text = client.mail(mail_from)
                if code != 250:
                    client.rset()
                    return code, text.decode(errors="replace")
                code, text = client.rcpt(rcpt)
                if code not in (250, 251):
                    client.rset()
                    return code, text.decode(errors="replace")
                try:
                    code, text = client.data(data)
                except smtplib.SMTPDataError as e:
                    client.rset()
                    return e.smtp_code, e.smtp_error.decode(errors="replace")
                return code, text.decode(errors="replace")
            except smtplib.SMTPServerDisconnected as e:
                self._drop(kind)
                if attempt == 2:
                    return 0, f"disconnected: {e}"
            except (smtplib.SMTPException, OSError) as e:
                self._drop(kind)
                return 0, f"{type(e).__name__}: {e}"
        return 0, "unreachable"


def build(kind: str, idx: int, rng: random.Random, codes: list) -> tuple[str, str, str, str, bytes, str | None]:
    """(kind as sent, connection kind, MAIL FROM, RCPT, message bytes, task id of a
    pair.request). A pair_valid becomes a pair_wrong when the issued codes ran out."""
    a = agent(rng.randrange(N_AGENTS))
    body = "x" * rng.choice((200, 800, 2000, 6000)) + "\n"
    if kind == "plain":
        m = h.make_message(OUTSIDE, a, "plain soak mail", body)
        return kind, "plain", OUTSIDE, a, m.as_bytes(), None
    if kind == "dispatch_allowed":
        m = s.dispatch(sender(idx), a, "project=soak", body=body)
        return kind, "sender", sender(idx), a, m.as_bytes(), None
    if kind == "dispatch_untrusted":
        m = s.dispatch(OUTSIDE, a, body=body)
        return kind, "plain", OUTSIDE, a, m.as_bytes(), None
    if kind == "malformed":
        m = s.dispatch(OUTSIDE, a, body=body)
        del m["X-AAMP-TaskId"]
        return kind, "plain", OUTSIDE, a, m.as_bytes(), None
    if kind == "result":
        m = s.aamp_message(OUTSIDE, a, "task.result", fields={"Status": "completed"}, body=body)
        return kind, "plain", OUTSIDE, a, m.as_bytes(), None
    if kind == "pair_wrong":
        m = s.pair_request(requester(idx), a, "wrong" + "".join(rng.choices("abcdefgh", k=3)))
        return kind, "requester", requester(idx), a, m.as_bytes(), m["X-AAMP-TaskId"]
    if kind == "pair_valid":
        try:
            mailbox, code = codes.pop()
        except IndexError:  # ran out: send a wrong one instead, counted as such
            return build("pair_wrong", idx, rng, codes)
        m = s.pair_request(requester(idx), mailbox, code)
        return kind, "requester", requester(idx), mailbox, m.as_bytes(), m["X-AAMP-TaskId"]
    raise ValueError(kind)


def expected(kind: str) -> str:
    return next(e for k, _, e in MIX if k == kind)


def classify(code: int) -> str:
    if code == 250:
        return "accepted"
    if 500 <= code < 600:
        return "rejected"
    if 400 <= code < 500:
        return "tempfailed"
    return "error"


def run_soak(messages: int, seconds: float, sessions: int = 4, seed: int = 7,
             warmup: int | None = None, progress=None, pair_share: float | None = None) -> SoakResult:
    """Stands up the stack, sends a warm-up batch, measures the idle milter (baseline),
    sends the rest (all sending within `seconds`), waits for the queue and the outbox to
    drain (bounded), and measures again. Always tears everything down.
    pair_share: the fraction of pair.requests (default: MIX's 3%), two thirds wrong."""
    sessions = max(1, min(sessions, N_SENDERS))
    warmup = min(messages, warmup if warmup is not None else max(200, messages // 20))
    started = time.monotonic()
    result = SoakResult(planned=messages)
    agents = [agent(i) for i in range(N_AGENTS)]
    users = [sender(i) for i in range(N_SENDERS)] + [requester(i) for i in range(N_SENDERS)]
    # No lockouts in the soak: wrong codes keep being answered (a steady reply load).
    stack = s.AampStack(agents=agents, users=users,
                        milter_config=["PairMaxFailures 1000", "PairFailureWindow 1s"])
    try:
        stack.start()
        milter = stack.milter
        for a in agents:
            stack.ctl.allow_sender(a, f"@{s.DOMAIN}")
        weights = {k: w for k, w, _ in MIX}
        if pair_share is not None:
            rest = sum(w for k, w in weights.items() if not k.startswith("pair_"))
            pairs = rest * pair_share / (1 - pair_share)
            weights["pair_wrong"], weights["pair_valid"] = pairs * 2 / 3, pairs / 3
        kinds = list(weights)
        wts = [weights[k] for k in kinds]
        n_valid = int(messages * weights["pair_valid"] / sum(wts) * 1.2) + 2
        # aampctl is one process per code: issue them in parallel (SQLite serialises the writes).
        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(lambda i: (agents[i % N_AGENTS],
                                             stack.ctl.issue_code(agents[i % N_AGENTS], ttl="3h")),
                                  range(n_valid)))
        codes_lock = threading.Lock()
        rec_lock = threading.Lock()
        result.seconds_setup = time.monotonic() - started
        deadline = time.monotonic() + seconds
        accepted_pair_tasks: list[str] = []
        stop = threading.Event()

        def record(kind: str, code: int, text: str, dt: float, task) -> None:
            outcome = classify(code)
            want = expected(kind)
            ok = outcome == "tempfailed" or \
                (outcome == "accepted" and want in ("deliver", "consume")) or \
                (outcome == "rejected" and want == "reject")
            with rec_lock:
                result.sent += 1
                result.outcomes[outcome] += 1
                result.by_kind.setdefault(kind, Counter())[outcome] += 1
                result.latencies_ms.append(dt)
                if not ok and len(result.unexpected) < 50:
                    result.unexpected.append((kind, code, text[:160]))
                if outcome == "accepted":
                    if want == "deliver":
                        result.expected_delivered += 1
                    elif task:
                        accepted_pair_tasks.append(task)

        def send_batch(count: int, phase: str) -> None:
            todo = iter(range(count))
            todo_lock = threading.Lock()

            def worker(idx: int) -> None:
                rng = random.Random(f"{seed}/{phase}/{idx}")
                sess = Session(stack.postfix, idx)
                try:
                    while not stop.is_set() and time.monotonic() < deadline:
                        with todo_lock:
                            if next(todo, None) is None:
                                return
                        with codes_lock:
                            kind, conn, mfrom, rcpt, data, task = build(
                                rng.choices(kinds, wts)[0], idx, rng, codes)
                        t0 = time.monotonic()
                        code, text = sess.send(conn, mfrom, rcpt, data)
                        record(kind, code, text, (time.monotonic() - t0) * 1000, task)
                finally:
                    sess.close()

            threads = [threading.Thread(target=worker, args=(i,), name=f"{phase}-{i}")
                       for i in range(sessions)]
            for t in threads:
                t.start()
            h.join_all(threads, timeout=max(1.0, deadline - time.monotonic()) + 120)

        def settle() -> None:
            # Bounded by the volume: Postfix and the reply worker catch up.
            try:
                stack.wait_settled(timeout=60 + result.sent / 50)
            except TimeoutError as e:
                print(f"warning: {e}".splitlines()[0], file=sys.stderr)

        def idle_fds(baseline: dict | None) -> int:
            # Postfix closes its milter connection when an SMTP session ends; give it time.
            if baseline is not None:
                try:
                    h.wait_until(lambda: split_fds(milter.fd_kinds())[1] <= split_fds(baseline)[1],
                                 10, "the milter's descriptors back to the idle count")
                except TimeoutError:
                    pass  # reported through the counts
            return milter.fd_count()

        def sampler() -> None:
            while not stop.wait(1.0):
                try:
                    result.samples.append(Sample(time.monotonic() - started, result.sent,
                                                 milter.rss_kb(), milter.fd_count(), milter.threads(),
                                                 len(stack.pending_replies())))
                except (OSError, h.HarnessError):
                    result.milter_alive = False
                    return
                if progress:
                    progress(result)

        samp = threading.Thread(target=sampler, name="sampler")
        samp.start()
        t_send = time.monotonic()
        try:
            send_batch(warmup, "warmup")
            settle()
            result.idle_fds_before = idle_fds(None)
            result.fd_kinds_before = milter.fd_kinds()
            result.warm_rss_kb = milter.rss_kb()
            send_batch(messages - warmup, "soak")
            result.seconds_sending = time.monotonic() - t_send
            t_drain = time.monotonic()
            settle()
            result.seconds_drain = time.monotonic() - t_drain
        finally:
            stop.set()
            samp.join(10)
        result.expected_replies = len(accepted_pair_tasks)
        result.milter_alive = result.milter_alive and milter.running()
        result.idle_fds_after = idle_fds(result.fd_kinds_before)
        result.fd_kinds_after = milter.fd_kinds()
        result.samples.append(Sample(time.monotonic() - started, result.sent, milter.rss_kb(),
                                     milter.fd_count(), milter.threads()))
        result.delivered = sum(stack.postfix.count(a) for a in agents)
        result.reply_rate = reply_worker_rate(stack.outbox())
        for r in range(N_SENDERS):
            replies = stack.replies(requester(r), headers_only=True)
            result.replies += len(replies)
            result.replies_completed += sum(1 for m in replies if m["X-AAMP-Status"] == "completed")
        result.log_bytes = stack.postfix.log_size()
    finally:
        stack.close()
        result.seconds_total = time.monotonic() - started
    return result


def reply_worker_rate(rows: list[dict]) -> float:
    """Replies sent per second over the seconds in which the outbox had a backlog (a reply
    sent later than it was due): the reply worker's own pace, not the arrival rate."""
    late = sorted(r["sent_at"] for r in rows if r["sent_at"] and r["sent_at"] > r["created_at"] + 1)
    if len(late) < 10 or late[-1] == late[0]:
        return 0.0
    return len(late) / (late[-1] - late[0] + 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("AAMP_BINARY_DIR", "build"))
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=900)
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--warmup", type=int, help="messages before the baseline (default 5%%, at least 200)")
    ap.add_argument("--pair-share", type=float, help="fraction of pair.requests (default 0.03)")
    ap.add_argument("--json", help="write the summary here too")
    args = ap.parse_args()
    build_dir = Path(args.build_dir).resolve()
    os.environ.setdefault("AAMP_MILTER", str(build_dir / "milter" / "aamp-milter"))
    os.environ.setdefault("AAMPCTL", str(build_dir / "ctl" / "aampctl"))

    last = [0.0]

    def progress(r: SoakResult) -> None:
        now = time.monotonic()
        if now - last[0] >= 10:
            last[0] = now
            x = r.samples[-1]
            print(f"[{x.t:6.0f}s] sent {r.sent:>7} {dict(r.outcomes)} rss {x.rss_kb} kB fds {x.fds} "
                  f"outbox {x.outbox_pending}",
                  file=sys.stderr, flush=True)

    r = run_soak(args.messages, args.seconds, args.sessions, args.seed, args.warmup, progress,
                 args.pair_share)
    summary = r.summary()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
