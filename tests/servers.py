"""Finding the machine's PostgreSQL and Redis, and starting throwaway ones.

Throwaway servers serve two needs: `make test` on a machine where none is
running (binaries installed), and outage tests, which stop *their own* server
by PID and never the machine's shared ones.

A shared Redis may hold someone else's data, so the suite empties only logical
databases it marked as its own: it claims a database only while it is empty
(one atomic script: DBSIZE 0, then SET of a marker key inside that database),
and every flush first checks, in the same script, that the marker is still
this process's. A database holding any other key is skipped, never flushed.
"""

from __future__ import annotations

import atexit
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

INSTALL_HINT = "apt-get update && apt-get install -y --no-install-recommends postgresql redis-server"
MARKER = "verify-test:owner"
# A child process a run starts on a database it claimed (the bench's callgrind runs) shares its claim by this variable.
OWNER = os.environ.get("VERIFY_REDIS_CLAIM_OWNER") or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
CLAIMABLE = range(1, 16)  # database 0 is where other programs keep their data: never ours

# KEYS[1] = the marker. ARGV[1] = our owner token, ARGV[2] = a dead run's token we may take over ("" for none).
_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return 1 end
if held == false and redis.call('DBSIZE') == 0 then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
if ARGV[2] ~= '' and held == ARGV[2] then redis.call('FLUSHDB') redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""
# Older copies of this suite lock database N with a key `verify-test:claim:N` in database 0 (and then flush N
# without looking): hold that lock too, so that they never pick ours. KEYS[1] = the lock, ARGV[1] = our token.
_LOCK = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return 1 end
if held then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 1"
_FLUSH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('FLUSHDB')
if ARGV[2] == 'keep' then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


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


def _client(target: str | redis.Redis) -> tuple[redis.Redis, bool]:
    """A client for a URL (ours to close) or the given one."""
    if isinstance(target, redis.Redis):
        return target, False
    return redis.Redis.from_url(target, socket_connect_timeout=2, socket_timeout=5), True


def _dead_run_on_this_host(held: bytes | None) -> str:
    """The marker of a run on this host whose process is gone (its database is ours to reuse), else ""."""
    host, _, rest = (held or b"").decode(errors="replace").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return ""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return (held or b"").decode()
    except PermissionError:
        pass  # alive, someone else's process
    return ""


def claim_redis_database(url: str) -> bool:
    """Mark the database at url as this process's own if it is empty (or ours already); True when it is ours."""
    client, close = _client(url)
    try:
        stale = _dead_run_on_this_host(client.get(MARKER))  # type: ignore[arg-type]
        return bool(client.eval(_CLAIM, 1, MARKER, OWNER, stale))
    finally:
        if close:
            client.close()


def flush_redis(target: str | redis.Redis, *, release: bool = False) -> None:
    """FLUSHDB, but only a database that holds this process's marker (checked in the same atomic script).

    The marker is put back unless release is true. Raises RuntimeError, deleting nothing, otherwise.
    """
    client, close = _client(target)
    try:
        if not client.eval(_FLUSH, 1, MARKER, OWNER, "release" if release else "keep"):
            db = client.connection_pool.connection_kwargs.get("db", 0)
            raise RuntimeError(f"Redis database {db} is not marked as this test run's own: refusing to flush it")
    finally:
        if close:
            client.close()


def _legacy_lock(url: str, lock: bool) -> bool:
    """Take (or give back) the older suites' lock on url's database, a key in database 0 of its server."""
    prefix, _, index = url.rpartition("/")
    client = redis.Redis.from_url(f"{prefix}/0", socket_connect_timeout=2, socket_timeout=5)
    try:
        if lock:
            return bool(client.eval(_LOCK, 1, f"verify-test:claim:{index}", OWNER, 4 * 3600))
        return bool(client.eval(_UNLOCK, 1, f"verify-test:claim:{index}", OWNER))
    finally:
        client.close()


def release_redis_database(url: str) -> None:
    """Empty our database and drop our marker and lock (does nothing to a database that is not ours)."""
    try:
        flush_redis(url, release=True)
    except (RuntimeError, redis.RedisError):
        return
    _legacy_lock(url, lock=False)


def claim_free_redis_database(base_url: str) -> str | None:
    """URL of the first logical database of base_url's server that we could claim, or None."""
    prefix = base_url.rsplit("/", 1)[0]
    for url in (f"{prefix}/{index}" for index in CLAIMABLE):
        if not _legacy_lock(url, lock=True):
            continue
        if claim_redis_database(url):
            return url
        _legacy_lock(url, lock=False)
    return None


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
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        """redis://127.0.0.1:PORT/0"""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start on the same port as before (empty: it keeps nothing on disk); database 0 is marked ours."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"redis-server is not installed: {INSTALL_HINT}")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: redis_answers(self.url), "throwaway redis-server")
        if not claim_redis_database(self.url):
            raise RuntimeError(f"a fresh redis-server on port {self.port} was not empty")
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
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)

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


class RedisClaims:
    """Logical databases claimed for this process: on base_url's server, else on throwaway servers of ours."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.claimed: list[str] = []
        self.own: list[RedisServer] = []

    def claim(self) -> str:
        """An empty database marked as ours (the shared server's first free one, or one of our own server)."""
        for base in [self.base_url, *(server.url for server in self.own)]:
            url = claim_free_redis_database(base)
            if url is not None:
                break
        else:
            self.own.append(RedisServer().start())
            url = claim_free_redis_database(self.own[-1].url)
        if url is None:
            raise RuntimeError("a fresh redis-server had no free database")
        self.claimed.append(url)
        return url

    def close(self) -> None:
        """Empty and unmark our databases, stop our servers."""
        for url in self.claimed:
            release_redis_database(url)
        for server in self.own:
            server.stop()
