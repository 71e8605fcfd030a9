"""pg_cluster.py — a throwaway PostgreSQL 15 cluster for the Python tests (blackbox, e2e),
the same as tests/support/pg_cluster.hpp for C++: tests/support/pg-cluster starts it in a
fresh temp directory (127.0.0.1, a free port, fsync off); role aamp with a password owns
database aamp; the superuser reaches it over the unix socket in that directory.

    import sys, pathlib; sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from pg_cluster import PgCluster
    with PgCluster() as pg:           # or pg_cluster.shared(): one per process, stopped at exit
        pg.url                        # postgresql://aamp:s3cret-pw@127.0.0.1:PORT/aamp
        pg.superuser_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ...")
        pg.halt(); pg.resume()        # the server stopped and started again (same port, same data)

Run directly (python3 tests/pg_cluster.py) it starts a cluster, checks it and stops it.
Not thread-safe: start and stop from one thread; superuser_sql from any.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

SCRIPT = Path(__file__).resolve().parent / "support" / "pg-cluster"
PASSWORD = "s3cret-pw"


class PgCluster:
    """Starts on construction; stop() (or leaving a with block) stops it and removes it."""

    def __init__(self) -> None:
        self._tmp = tempfile.mkdtemp(prefix="aamp-pg-")
        # Run as root the server runs as postgres: it must traverse this dir to its own.
        os.chmod(self._tmp, 0o711)
        self.dir = os.path.join(self._tmp, "pg")
        try:
            done = subprocess.run([str(SCRIPT), "start", self.dir], check=True, capture_output=True,
                                  text=True, timeout=120)
        except subprocess.CalledProcessError as e:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise RuntimeError(f"pg-cluster start failed: {e.stderr}") from e
        self.url: str = done.stdout.strip()
        self.port: int = int(Path(self.dir, "port").read_text().strip())
        self.ca_file = os.path.join(self.dir, "server.crt")  # the server's self-signed certificate (127.0.0.1)
        self.password = PASSWORD
        self._stopped = False

    def superuser_sql(self, sql: str, database: str = "aamp") -> str:
        """Runs sql as the superuser (psql -At); returns its output without the last newline.
        One statement runs outside a transaction block (CREATE DATABASE can)."""
        done = subprocess.run(
            ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-p", str(self.port),
             "-U", "postgres", "-d", database, "-c", "SET client_min_messages = warning", "-c", sql],
            capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout.rstrip("\n")

    def halt(self) -> None:
        """Stops the server (fast shutdown: sessions are ended), keeping its data: a fault."""
        subprocess.run([str(SCRIPT), "halt", self.dir], check=True, capture_output=True, timeout=120)

    def resume(self) -> None:
        """Starts a halted server again on the same port (the same url)."""
        subprocess.run([str(SCRIPT), "resume", self.dir], check=True, capture_output=True, timeout=120)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        subprocess.run([str(SCRIPT), "stop", self.dir], capture_output=True, timeout=120)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "PgCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: Optional[PgCluster] = None


def shared() -> PgCluster:
    """One cluster for the whole test process, started on first use, stopped at exit."""
    global _shared
    if _shared is None:
        _shared = PgCluster()
        atexit.register(_shared.stop)
    return _shared


if __name__ == "__main__":
    with PgCluster() as pg:
        assert pg.url == f"postgresql://aamp:{PASSWORD}@127.0.0.1:{pg.port}/aamp", pg.url
        assert pg.superuser_sql("SELECT current_user") == "postgres"
        owner = pg.superuser_sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'aamp'")
        assert owner == "aamp", owner
        as_aamp = subprocess.run(["psql", "-X", "-At", pg.url, "-c", "SELECT current_user"],
                                 capture_output=True, text=True, timeout=60)
        assert as_aamp.stdout.strip() == "aamp", as_aamp.stderr
        wrong = subprocess.run(["psql", "-X", "-At", pg.url.replace(PASSWORD, "wrong"), "-c", "SELECT 1"],
                               capture_output=True, text=True, timeout=60)
        assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr, wrong.stderr
        pg.halt()
        down = subprocess.run(["psql", "-X", "-At", pg.url, "-c", "SELECT 1"], capture_output=True, text=True, timeout=60)
        assert down.returncode != 0, "halted, yet it answers"
        pg.resume()
        assert pg.superuser_sql("SELECT 1") == "1"
        where = pg.dir
    assert not os.path.exists(where)
    print("pg_cluster: ok")
