"""milter_relay — a TCP relay between Postfix and aamp-milter that reads the milter
protocol's packet framing in Postfix's direction (4-byte big-endian length, then the command
byte: libmilter/mfdef.h SMFIC_*) and, when armed for a command, kills the milter the moment
Postfix sends it: the command is handed to the milter, the milter's answers stop reaching
Postfix, the milter gets SIGKILL, and both connections are closed. From Postfix's side the
milter died in the middle of that stage, which is what the tests want to cause, without any
test hook inside aamp-milter. Standard library only; every socket has a timeout.
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Callable, Optional

# SMFIC_* commands Postfix sends, by the stage names the tests use.
STAGES = {
    "connect": b"C",
    "helo": b"H",
    "mail": b"M",
    "rcpt": b"R",
    "data": b"T",
    "header": b"L",
    "eoh": b"N",
    "body": b"B",
    "eom": b"E",
}


class MilterRelay:
    """Listens on 127.0.0.1:<port>; each connection is relayed to 127.0.0.1:<milter_port>."""

    def __init__(self, milter_port: int, kill: Callable[[], None]) -> None:
        self.milter_port = milter_port
        self._kill = kill
        self._lock = threading.Lock()
        self._armed: Optional[bytes] = None
        self.fired = threading.Event()
        self.fired_stage: Optional[str] = None
        self.commands_seen: list[bytes] = []  # every command byte from Postfix, in order
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept_thread = threading.Thread(target=self._accept_loop, name="relay-accept", daemon=True)
        self._accept_thread.start()

    # -- control -----------------------------------------------------------------------

    def arm(self, stage: str) -> None:
        """The next `stage` command Postfix sends (on any connection) kills the milter."""
        with self._lock:
            self._armed = STAGES[stage]
            self.fired.clear()
            self.fired_stage = None

    def disarm(self) -> None:
        with self._lock:
            self._armed = None

    def close(self) -> None:
        self._closing.set()
        self._accept_thread.join(5)
        self._listener.close()
        for t in self._threads:
            t.join(5)

    # -- relaying ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(client,), name="relay-conn", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(60)
        try:
            upstream = socket.create_connection(("127.0.0.1", self.milter_port), timeout=5)
        except OSError:
            client.close()  # the milter is down: Postfix sees the connection end
            return
        upstream.settimeout(60)
        muted = threading.Event()  # set when the milter is killed: nothing more reaches Postfix
        back = threading.Thread(target=self._pump_back, args=(upstream, client, muted), daemon=True)
        back.start()
        try:
            while not self._closing.is_set():
                header = _read_exact(client, 4)
                if header is None:
                    break
                (length,) = struct.unpack(">I", header)
                if length == 0 or length > 1 << 24:
                    break
                body = _read_exact(client, length)
                if body is None:
                    break
                command = body[:1]
                self.commands_seen.append(command)
                fire = False
                with self._lock:
                    if self._armed is not None and command == self._armed:
                        self._armed = None
                        fire = True
                if fire:
                    muted.set()
                    try:
                        upstream.sendall(header + body)
                    except OSError:
                        pass
                    self._kill()
                    self.fired_stage = next(k for k, v in STAGES.items() if v == command)
                    self.fired.set()
                    break
                upstream.sendall(header + body)
        except OSError:
            pass
        finally:
            for s in (upstream, client):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            back.join(5)

    @staticmethod
    def _pump_back(upstream: socket.socket, client: socket.socket, muted: threading.Event) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data or muted.is_set():
                    return
                client.sendall(data)
        except OSError:
            return


def _read_exact(s: socket.socket, n: int) -> Optional[bytes]:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
