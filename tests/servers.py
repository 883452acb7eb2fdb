"""Finding the machine's PostgreSQL and Redis, and starting throwaway ones.

Throwaway servers serve two needs: `make test` on a machine where none is
running (binaries installed), and outage tests, which stop *their own* server
by PID and never the machine's shared ones.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

INSTALL_HINT = "apt-get update && apt-get install -y --no-install-recommends postgresql redis-server"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_answers(url: str) -> bool:
    """True when a PostgreSQL server accepts a connection at url."""
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    """True when a Redis server answers PING at url."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _wait(check: object, what: str, seconds: float = 15.0) -> None:
    """Poll until check() is true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {seconds} s")


class RedisServer:
    """A redis-server of our own on a free port; stop() and start() it at will."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.dir = tempfile.mkdtemp(prefix="verify-redis-")

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start on the same port as before."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"redis-server is not installed: {INSTALL_HINT}")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: redis_answers(self.url), "throwaway redis-server")
        return self

    def stop(self) -> None:
        """Kill our server (and only ours)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def _pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server binary (Debian keeps them out of PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp dir (run as `postgres` when we are root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="verify-pg-"))
        self.data = self.dir / "data"

    @property
    def url(self) -> str:
        """Superuser URL of the `postgres` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        """Run a server binary, as postgres when root (initdb refuses root)."""
        command = list(args)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> PostgresServer:
        """initdb (once) and start."""
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError(f"PostgreSQL is not installed: {INSTALL_HINT}")
        if not self.data.exists():
            self._run(initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self._run(pg_ctl, "-D", str(self.data), "-w", "-l", str(self.dir / "log"),
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        _wait(lambda: postgres_answers(self.url), "throwaway PostgreSQL")
        return self

    def stop(self) -> None:
        """Stop our cluster (fast mode)."""
        pg_ctl = _pg_bin("pg_ctl")
        if pg_ctl and self.data.exists():
            self._run(pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")
