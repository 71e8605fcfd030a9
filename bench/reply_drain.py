#!/usr/bin/env python3
"""reply_drain — how long aamp-milter's reply worker takes to drain a full outbox over the
SMTP transport. The database already holds N due pair.respond replies (aamp_bench_db
--replies N); this starts a counting SMTP sink on loopback, starts aamp-milter on that
database with `ReplyTransport smtp://127.0.0.1:PORT`, waits (bounded) until the sink has taken
N messages, stops the daemon (TERM, then KILL) and writes one JSON object:
  {"replies", "received", "connections", "from_start_s", "drain_s", "per_s", "complete"}
drain_s: from the first message the sink received to the N-th; from_start_s: from the
daemon's start to the N-th. The sink is single-threaded asyncio; it answers like Postfix's
smtp-sink (250 to everything, 354 to DATA) and counts connections and messages.
Standard library only.

  reply_drain.py --aamp BIN --database DB --work DIR --replies N --json FILE [--timeout S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path


class Sink:
    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.connections = 0
        self.times: list[float] = []
        self.done = asyncio.Event()

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        write = lambda line: writer.write(line.encode() + b"\r\n")
        write("220 sink.bench.test ESMTP")
        try:
            while True:
                await writer.drain()
                line = await reader.readline()
                if not line:
                    return
                verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
                if verb == "EHLO":
                    writer.write(b"250-sink.bench.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == "DATA":
                    write("354 go ahead")
                    await writer.drain()
                    while (await reader.readline()) not in (b".\r\n", b".\n", b""):
                        pass
                    self.times.append(time.monotonic())
                    write("250 2.0.0 queued")
                    if len(self.times) >= self.expect:
                        self.done.set()
                elif verb == "QUIT":
                    write("221 bye")
                    await writer.drain()
                    return
                else:
                    write("250 ok")
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()


async def run(args: argparse.Namespace) -> dict:
    sink = Sink(args.replies)
    server = await asyncio.start_server(sink.session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conf = Path(args.work) / "reply-drain.conf"
    sock = Path(args.work) / "reply-drain.sock"
    conf.write_text("# written by bench/reply_drain.py\n"
                    f"Socket unix:{sock}\nDatabase {args.database}\nAuthservID mx.bench.test\n"
                    "Mode enforce\nSyslog no\n"
                    f"ReplyTransport smtp://127.0.0.1:{port} starttls=off\n")
    log = open(Path(args.work) / "reply-drain.log", "ab")
    start = time.monotonic()
    proc = subprocess.Popen([args.aamp, "-f", "-c", str(conf)], stdout=log, stderr=log)
    try:
        deadline = start + args.timeout
        while not sink.done.is_set() and time.monotonic() < deadline and proc.poll() is None:
            try:
                await asyncio.wait_for(sink.done.wait(), timeout=0.5)
            except asyncio.TimeoutError:
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.get_running_loop().run_in_executor(None, proc.wait, 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.close()
        log.close()
    n = len(sink.times)
    complete = n >= args.replies
    end = sink.times[args.replies - 1] if complete else None
    drain = (end - sink.times[0]) if complete else None
    return {"replies": args.replies, "received": n, "connections": sink.connections,
            "from_start_s": (end - start) if complete else None, "drain_s": drain,
            "per_s": (args.replies - 1) / drain if drain else None, "complete": complete,
            "timeout_s": args.timeout}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aamp", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--replies", type=int, default=1000)
    ap.add_argument("--json", required=True)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    result = asyncio.run(run(args))
    Path(args.json).write_text(json.dumps(result))
    print(json.dumps(result))
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
