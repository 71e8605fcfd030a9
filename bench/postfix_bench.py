#!/usr/bin/env python3
"""postfix_bench — issue 6 item 4: smtp-source -> Postfix (a throwaway loopback instance from
tests/e2e/postfix_harness.py) -> smtp-sink, with no milter, the null milter and aamp-milter,
over TCP and a unix socket. For each configuration: messages/s end to end (smtp-source start
to an empty queue, every message checked as delivered to the sink) and CPU per message of
Postfix's processes, of the milter and of the load tools. Ratios are taken against the
null-milter configuration of the same socket type, in bench/report.py.

The milters are started by bench/run and named here as NAME=POSTFIX_SPEC@PID; this script
only reconfigures one Postfix instance between them (postconf + reload). Every wait is
bounded. Standard library only; one thread.

  postfix_bench.py --work DIR --json OUT --messages N --reps R [--milter NAME=SPEC@PID]...
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))
import postfix_harness as ph  # noqa: E402  (the e2e harness: one place that knows Postfix set-up)

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
SINK_DOMAIN = "sink.test"
# An allowed dispatch per bench/loadgen/corpus.hpp (mailbox 5, rule 3: exact, no context);
# Postfix connects from 127.0.0.1, which bench/run lists in the milter's InternalHosts.
AAMP_SENDER = "d3.m0005@corp8.bench.test"
AAMP_RCPT = "agent0005@agents.bench.test"


def cpu_of(pid: int, children: bool = False) -> float:
    """utime+stime (plus reaped children's when asked) of one process, in seconds; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postfix_cpu(inst: ph.PostfixInstance) -> float:
    """CPU of every live process of the instance, plus what the master reaped from the
    daemons that exited (cutime/cstime): the instance's whole CPU since it started."""
    master = inst.master_pid()
    total = 0.0
    for pid in inst.processes():
        total += cpu_of(pid, children=(pid == master))
    return total


def aamp_message(size: int) -> bytes:
    body_line = "The quick brown fox jumps over the lazy dog; benchmark text line for the milter.\n"
    lines = [
        f"From: {AAMP_SENDER}",
        f"To: {AAMP_RCPT}",
        "Subject: [AAMP Task] Benchmark task through Postfix",
        "Date: Mon, 03 Mar 2025 10:00:00 +0000",
        # No Message-ID: smtp-source sends this one file every time, and the filter delivers
        # one Message-ID once per recipient (issue 15). Postfix's cleanup adds a Message-ID
        # of its own to each message (always_add_missing_headers below) before the filter
        # reads the headers, so every message is a new one, as real mail is.
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "X-AAMP-Version: 1.1",
        "X-AAMP-Intent: task.dispatch",
        "X-AAMP-TaskId: task-postfix-bench-1",
        "X-AAMP-Priority: normal",
        "X-AAMP-Expires-At: 2099-12-31T23:59:59Z",
        "",
        "Please run the benchmark task.",
    ]
    text = "\n".join(lines) + "\n"
    while len(text) < size:
        text += body_line
    return text.encode()


def sent_count(inst: ph.PostfixInstance, since: int) -> tuple[int, int]:
    """(delivered to the sink, refused or deferred) in the log from byte `since`."""
    log = inst.log_since(since)
    sent = len(re.findall(r" status=sent ", log))
    bad = len(re.findall(r"milter-reject|status=(deferred|bounced)", log))
    return sent, bad


def run_one(inst: ph.PostfixInstance, sink_pid: int, milter_pid: int | None, workload: str,
            messages: int, sessions: int, size: int, msg_file: Path) -> dict:
    log_at = inst.log_size()
    cpu_pf0 = postfix_cpu(inst)
    cpu_m0 = cpu_of(milter_pid) if milter_pid else 0.0
    cpu_sink0 = cpu_of(sink_pid)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages)]
    if workload == "plain":
        argv += ["-l", str(size), "-f", f"bench@source.test", "-t", f"rcpt@{SINK_DOMAIN}"]
    else:
        argv += ["-F", str(msg_file), "-f", AAMP_SENDER, "-t", AAMP_RCPT]
    argv.append(f"127.0.0.1:{inst.smtp_port}")
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, timeout=max(60, messages / 20))
    if p.returncode != 0:
        raise ph.HarnessError(f"smtp-source failed: {p.stderr.decode(errors='replace')}\n{inst.log_tail()}")
    # End to end: until the sink has every message (the queue empty and the log says sent).
    ph.wait_until(lambda: sent_count(inst, log_at)[0] >= messages or sent_count(inst, log_at)[1] > 0,
                  max(60, messages / 20), f"{messages} deliveries to the sink", detail=inst.diagnostics)
    elapsed = time.monotonic() - t0
    sent, bad = sent_count(inst, log_at)
    if bad or sent != messages:
        raise ph.HarnessError(f"{workload}: {sent} of {messages} delivered, {bad} refused/deferred\n{inst.log_tail()}")
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    source_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    per = 1e6 / messages
    return {
        "messages": messages,
        "elapsed_s": elapsed,
        "msgs_per_s": messages / elapsed,
        "postfix_cpu_us_per_msg": (postfix_cpu(inst) - cpu_pf0) * per,
        "milter_cpu_us_per_msg": ((cpu_of(milter_pid) - cpu_m0) * per) if milter_pid else 0.0,
        "tools_cpu_us_per_msg": (source_cpu + cpu_of(sink_pid) - cpu_sink0) * per,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--json", required=True, type=Path)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--workloads", default="plain,aamp")
    ap.add_argument("--milter", action="append", default=[],
                    help="NAME=POSTFIX_SPEC@PID, e.g. null-tcp=inet:127.0.0.1:20001@1234")
    args = ap.parse_args()
    if not (1 <= args.messages <= 1_000_000 and 1 <= args.reps <= 20 and 1 <= args.sessions <= 100):
        ap.error("messages, reps or sessions out of bounds")

    configs: list[tuple[str, str | None, int | None]] = [("none", None, None)]
    for item in args.milter:
        name, _, rest = item.partition("=")
        spec, _, pid = rest.rpartition("@")
        configs.append((name, spec, int(pid)))

    sink_port = ph.free_ports(1)[0]
    results: dict = {"messages": args.messages, "sessions": args.sessions, "size": args.size,
                     "reps": args.reps, "runs": []}
    sink = subprocess.Popen([SMTP_SINK, "-u", "nobody", f"127.0.0.1:{sink_port}", "512"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=ph._set_parent_death_signal)
    transport = f"smtp:[127.0.0.1]:{sink_port}"
    inst = ph.PostfixInstance(domain="bench.test", extra_main={
        "relay_domains": f"{SINK_DOMAIN} agents.bench.test",
        "transport_maps": f"inline:{{ {SINK_DOMAIN}={transport}, agents.bench.test={transport} }}",
        # The queue manager would otherwise pace a fresh destination.
        "default_destination_concurrency_limit": "20",
        # A Message-ID of its own for each message (aamp_message has none).
        "always_add_missing_headers": "yes",
    })
    msg_file = inst.root / "aamp.eml"
    msg_file.write_bytes(aamp_message(args.size))
    msg_file.chmod(0o644)
    try:
        ph.wait_until(lambda: ph._port_open("127.0.0.1", sink_port), 10, "smtp-sink")
        inst.start()
        current = "unset"
        for rep in range(args.reps):
            order = configs if rep % 2 == 0 else list(reversed(configs))
            for name, spec, pid in order:
                if spec != current:
                    inst.milter = spec
                    inst.write_config()
                    inst.reload()
                    current = spec
                    # Warm-up: new smtpd/cleanup processes with the new configuration.
                    run_one(inst, sink.pid, pid, "plain", 50, args.sessions, args.size, msg_file)
                for workload in args.workloads.split(","):
                    r = run_one(inst, sink.pid, pid, workload, args.messages, args.sessions, args.size, msg_file)
                    r.update({"config": name, "workload": workload, "rep": rep})
                    results["runs"].append(r)
                    print(f"  postfix {name:10s} {workload:5s} rep {rep}: {r['msgs_per_s']:7.0f} msg/s, "
                          f"postfix {r['postfix_cpu_us_per_msg']:5.0f} us/msg, milter {r['milter_cpu_us_per_msg']:5.0f} us/msg",
                          flush=True)
    finally:
        inst.close()
        sink.kill()
        sink.wait(5)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
