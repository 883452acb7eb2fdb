"""Load benchmark: gunicorn (2 workers) on PostgreSQL + Redis, wrk on loopback, ratios within one run.

    python bench/run.py [--sizes 1000,1000000,1000000:10000000] [--duration 10] [--connections 16]
                        [--scenarios floor,minimal,right] [--keep] [--reuse] [--drop]

Sizes: the PIN check against 1,000 customers (the reference), 1,000,000, and 1,000,000 with 10,000,000 checks
and their audit events already stored (bench/seed.py seeds them in bulk in SQL, with valid sealed PINs and
valid hash chains). Each size has a database of its own, verify_bench_c<customers>[_h<checks>]: --keep keeps
it after the run, --reuse runs on a kept one instead of seeding again, --drop drops them.

Every scenario is compared with two references measured in the same run: the floor (a bare Flask
endpoint, bench/floor_app.py) and the minimal design (bench/minimal_app.py: what any correct check
must do, one PostgreSQL read, one Redis EVALSHA and one single-statement durable write).

Besides wrk: bytes per check table by table, `audit verify`'s rate and peak memory, instructions per check
(callgrind, the service's and the minimal design's) and, on a tree that has it, a retention sweep under load.

Writes bench/RESULTS.md. Needs wrk (apt-get install wrk), valgrind, PostgreSQL and Redis
(BENCH_POSTGRES_URL, BENCH_REDIS_URL; local defaults). Each run claims a Redis logical database of its own
(they still share the machine's CPUs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.measure import (  # noqa: E402
    audit_verify,
    audit_verify_sample,
    bytes_per_check,
    flask,
    instructions_per_check,
    plain_url,
    retention_available,
    retention_sweep,
    seq_scans,
    table_sizes,
)
from bench.report import SCENARIOS, report  # noqa: E402
from bench.seed import History, seed, seed_history  # noqa: E402
from tests.servers import (  # noqa: E402
    claim_free_redis_database,
    claim_redis_database,
    flush_redis,
    free_port,
    release_redis_database,
)
from verify_service.config import load_settings  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")  # an empty index of 1-15 is claimed
PIN_KEYS = "bench:bench-pin-key-0000000000000000000000000000"
SAMPLE = 1000
BIN = Path(sys.executable).parent

SCRIPT = """
local accounts = {%(accounts)s}
local pins = {%(pins)s}
local key = "%(key)s"
local mode = "%(mode)s"
local pause = %(pause)d
math.randomseed(os.time() + tonumber(string.sub(tostring({}), 8), 16) %% 1000)
request = function()
  local i = math.random(#accounts)
  local a, p = accounts[i], pins[i]
  local h = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
  if mode == "floor" then return wrk.format("GET", "/", {}) end
  if mode == "minimal" then mode = "right" end
  if mode == "summary" then return wrk.format("GET", "/v1/customers/" .. a, h) end
  if mode == "send" then return wrk.format("POST", "/v1/customers/" .. a .. "/codes", h, "{}") end
  local body = '{"account_id":"' .. a .. '","channel":"phone","agent_id":"bench"'
  if mode == "right" then body = body .. ',"pin":"' .. p .. '"' end
  if mode == "wrong" then body = body .. ',"pin":"' .. (p == "000001" and "000002" or "000001") .. '"' end
  if mode == "code" then body = body .. ',"pin":"' .. p .. '","code":"000000"' end
  return wrk.format("POST", "/v1/verifications", h, body .. "}")
end
delay = function() return pause end
"""
CHECKS = ("right", "wrong", "code")  # the service's checks, each a record and an audit event (run one after another)
HOOKED = ("right_during_sweep",)  # run by retention_scenario, not on its own
# A half-peak scenario runs its peak scenario's app at about half the rate that scenario reached.
HALF = {"right_half": "right", "minimal_half": "minimal"}
APPS = {"floor": "bench.floor_app:app", "minimal": "bench.minimal_app:app"}  # every other scenario: wsgi:app


def wait_for(url: str, seconds: float = 180) -> None:
    """Poll until the URL answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def gunicorn(app: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn, 2 sync workers, as in production (the same settings for every app)."""
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-w", "2", "-b", f"127.0.0.1:{port}", app],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/healthz")
    return process


def run_wrk(port: int, script: str, duration: int, connections: int) -> dict[str, float]:
    """One wrk run; requests/s and latency percentiles in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", handle.name,
                          f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        result[f"p{pct}"] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def script_for(mode: str, sample: list[tuple[str, str]], key: str, pause: int = 0) -> str:
    """The wrk Lua script of one scenario."""
    return SCRIPT % {"accounts": ",".join(f'"{a}"' for a, _ in sample),
                     "pins": ",".join(f'"{p}"' for _, p in sample), "key": key, "mode": mode, "pause": pause}


@dataclass(frozen=True)
class Size:
    """One database the bench runs against: customers, and checks already stored (seeded in bulk)."""

    customers: int
    history: int = 0

    @classmethod
    def parse(cls, text: str) -> Size:
        """`1000000` or `1000000:10000000` (customers:stored checks)."""
        customers, _, history = text.partition(":")
        return cls(int(customers), int(history or 0))

    @property
    def key(self) -> str:
        """Its name in results.json."""
        return f"{self.customers}:{self.history}" if self.history else str(self.customers)

    @property
    def label(self) -> str:
        """Its name in RESULTS.md."""
        stored = f", {self.history:,} stored checks and audit events" if self.history else ""
        return f"{self.customers:,} customers{stored}"

    @property
    def database(self) -> str:
        """The bench's database for this size (kept between runs with --keep, reused with --reuse)."""
        return f"verify_bench_c{self.customers}" + (f"_h{self.history}" if self.history else "")


def claim_redis() -> str:
    """An empty logical Redis database marked as this run's own (BENCH_REDIS_URL's, or the first free one).

    Only a database that is empty, or marked by this run, is ever flushed (tests/servers.py).
    """
    if "BENCH_REDIS_URL" in os.environ:
        if not claim_redis_database(REDIS_URL):
            sys.exit(f"{REDIS_URL} holds keys that are not this run's: point BENCH_REDIS_URL at an empty database")
        return REDIS_URL
    url = claim_free_redis_database(REDIS_URL)
    if url is None:
        sys.exit(f"every Redis logical database 1-15 at {REDIS_URL} holds someone's keys")
    return url


def drop_database(name: str) -> None:
    """Drop one of the bench's databases."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_env(size: Size, redis_url: str) -> dict[str, str]:
    """The service's settings for the bench (no rate limit, a 1 s failure window, no SMS caps)."""
    return {**os.environ, "VERIFY_ENV": "test", "VERIFY_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + size.database,
            "VERIFY_REDIS_URL": redis_url, "VERIFY_PIN_KEYS": PIN_KEYS, "VERIFY_RATE_LIMIT_PER_SECOND": "0",
            "VERIFY_FAILURE_WINDOW_SECONDS": "1", "VERIFY_CODE_RESEND_SECONDS": "0",
            "VERIFY_CODE_MAX_SENDS_PER_HOUR": "1000000000",
            "VERIFY_SMS_MAX_PER_KEY_PER_HOUR": "1000000000", "VERIFY_SMS_MAX_PER_HOUR": "1000000000",
            "VERIFY_SMS_MAX_PER_NUMBER_PER_HOUR": "1000000000",
            "GUNICORN_DRAIN_SECONDS": "0", "VERIFY_OUTBOX_INPROCESS": "false",
            "VERIFY_DELIVERY_BACKEND": "console"}  # gunicorn.conf.py makes (and removes) the metrics folder


def kept(size: Size) -> tuple[list[tuple[str, str]], str] | None:
    """The sample and key of a database seeded by an earlier run (--keep), or None."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (size.database,)).fetchone() is None:
            return None
    with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + "/" + size.database, autocommit=True) as conn:
        try:
            row = conn.execute("SELECT value FROM bench_seeded WHERE name = 'sample'").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    if row is None:
        return None
    stored = json.loads(row[0])
    if stored.get("seeding"):  # how long the kept history took to seed, reported by the run that reuses it
        SEEDING[size.key] = stored["seeding"]
    return [(pair[0], pair[1]) for pair in stored["sample"]], stored["key"]


def prepare(size: Size, reuse: bool) -> tuple[dict[str, str], list[tuple[str, str]], str]:
    """The size's database (seeded now, or kept by an earlier run), a Redis of this run's own; the env, a sample
    with PINs and an agent key."""
    env = bench_env(size, claim_redis())
    flush_redis(env["VERIFY_REDIS_URL"])
    earlier = kept(size) if reuse else None
    if earlier is not None:
        print(f"{size.label}: reusing the kept database {size.database}", flush=True)
        flask(env, "db", "upgrade")  # kept by an older tree: this tree's migrations first
        return env, *earlier
    drop_database(size.database)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{size.database}"')
    flask(env, "db", "upgrade")
    key = flask(env, "keys", "create", "--name", "bench", "--role", "agent").stdout.strip().splitlines()[-1]
    started = time.monotonic()
    sample = seed(env["VERIFY_DATABASE_URL"], size.customers, PIN_KEYS, SAMPLE)
    print(f"seeded {size.customers:,} customers in {time.monotonic() - started:.0f} s", flush=True)
    if size.history:
        started = time.monotonic()
        settings = load_settings({}, env="test")
        seed_history(env["VERIFY_DATABASE_URL"], size.customers, size.history,
                     History(settings.audit_keys, settings.lockout_threshold, settings.verification_ttl_seconds),
                     lambda line: print(line, flush=True))
        SEEDING[size.key] = time.monotonic() - started
        print(f"seeded {size.history:,} stored checks in {SEEDING[size.key]:.0f} s", flush=True)
    with psycopg.connect(plain_url(env), autocommit=True) as conn:  # what --reuse needs (only in bench databases)
        conn.execute("CREATE TABLE bench_seeded (name text PRIMARY KEY, value text NOT NULL)")
        conn.execute("INSERT INTO bench_seeded VALUES ('sample', %s)",
                     (json.dumps({"sample": sample, "key": key, "seeding": SEEDING.get(size.key)}),))
    return env, sample, key


SEEDING: dict[str, float] = {}
VERIFY_SAMPLE = 100_000  # events `audit verify`'s own code checks on the stored history (all of them take long)


def bench_size(size: Size, args: argparse.Namespace, wanted: list[str]) -> dict[str, dict[str, float]]:
    """The wanted scenarios at full load, then at half peak; bytes per check; `audit verify`; the retention hook."""
    env, sample, key = prepare(size, args.reuse)
    results: dict[str, dict[str, float]] = {"stored": {name: float(value) for name, value in table_sizes(env).items()}}
    apps = {APPS.get(mode, "wsgi:app") for mode in wanted if mode not in HALF}
    ports = {app: free_port() for app in apps}
    servers = [gunicorn(app, env, port) for app, port in ports.items()]
    checks = [mode for mode in wanted if mode in CHECKS] or [""]  # bytes per check: measured over these
    try:
        for mode in wanted:
            if mode in HALF:
                continue
            target = ports[APPS.get(mode, "wsgi:app")]
            run_wrk(target, script_for(mode, sample, key), 2, args.connections)  # warm up
            if mode == checks[0]:
                before, scans = table_sizes(env), seq_scans(env)
            results[mode] = run_wrk(target, script_for(mode, sample, key), args.duration, args.connections)
            if mode == checks[-1]:
                results["bytes_per_check"] = bytes_per_check(before, table_sizes(env))
                time.sleep(1)  # the workers' statistics reach the shared counters within a second
                results["seq_scans"] = {name: float(count - scans.get(name, 0))
                                        for name, count in seq_scans(env).items()}
            print(size.key, mode, results[mode], flush=True)
        for half, full in HALF.items():
            if half not in wanted:
                continue
            # wrk has no fixed rate; a per-connection pause gives about half the peak.
            pause = max(1, int(args.connections * 1000 / (results[full]["rps"] / 2)))
            results[half] = run_wrk(ports[APPS.get(full, "wsgi:app")], script_for(full, sample, key, pause),
                                    args.duration, args.connections)
            print(size.key, full, "at half peak", results[half], flush=True)
        if size.history and "wsgi:app" in ports:
            results.update(retention_scenario(env, ports["wsgi:app"], sample, key, args))
    finally:
        for process in servers:
            process.terminate()
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:  # a starved host: gunicorn's workers did not stop in time
                process.kill()
                process.wait()
    if not size.history or args.history_verify:
        results["audit"] = audit_verify(env)  # type: ignore[assignment]
        print(size.key, results["audit"], flush=True)
    if size.history:
        results["audit_sample"] = audit_verify_sample(env, VERIFY_SAMPLE)
        print(size.key, results["audit_sample"], flush=True)
    if not args.keep:
        drop_database(size.database)
    release_redis_database(env["VERIFY_REDIS_URL"])
    return results


def interleaved(sizes: list[Size], args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """The right-PIN check on every size in alternating rounds (each size's gunicorn up at once), so the host's
    drift over the run falls on every size alike: the fair reading of "how cost grows". Needs the sizes' databases
    kept (--keep); each round is one wrk run per size, in a rotated order."""
    runs: dict[str, dict[str, list[float]]] = {size.key: {"rps": [], "p99": []} for size in sizes}
    prepared = [(size, *prepare(size, reuse=True)) for size in sizes]
    ports = [free_port() for _ in prepared]
    servers = [gunicorn("wsgi:app", env, port) for (_, env, _, _), port in zip(prepared, ports, strict=True)]
    try:
        for (_, _, sample, key), port in zip(prepared, ports, strict=True):
            run_wrk(port, script_for("right", sample, key), 2, args.connections)  # warm up
        for turn in range(args.rounds):
            order = list(zip(prepared, ports, strict=True))
            order = order[turn % len(order):] + order[:turn % len(order)]
            for (size, _, sample, key), port in order:
                found = run_wrk(port, script_for("right", sample, key), args.duration, args.connections)
                runs[size.key]["rps"].append(found["rps"])
                runs[size.key]["p99"].append(found["p99"])
                print(size.key, "interleaved", turn + 1, found, flush=True)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=120)
        for _, env, _, _ in prepared:
            release_redis_database(env["VERIFY_REDIS_URL"])
    return runs


SWEPT_ROWS = 1_000_000  # how many check records, and as many audit events, the retention scenario sweeps


def retention_scenario(env: dict[str, str], port: int, sample: list[tuple[str, str]], key: str,
                       args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Issue 20 item 1: `flask retention run` sweeps while the right-PIN load runs.

    The retention of check records and of audit events is set to the age of the 1,000,000th oldest of each (of the
    month start after it, for audit events, which leave a whole month at a time), so each run (a kept database too,
    whose oldest rows an earlier run swept) removes about that many of each (audit events: up to a month more); the
    audit events are archived first (segments and signed checkpoints in a folder of the run's own), as a
    deployment with VERIFY_AUDIT_ARCHIVE_DIR does. The sweep's rate is the rows it removed per second; its
    p99 is read against the `right` scenario's. Skipped (with a note) on a tree without the command.
    """
    if not retention_available(env):
        return {"retention": {"skipped": 1.0}}
    folder = tempfile.mkdtemp(prefix="verify-bench-archive-")
    sweep_env = {**env, "VERIFY_AUDIT_ARCHIVE_DIR": folder}
    for name, table, column in (("VERIFY_RETENTION_VERIFICATIONS", "verifications", "checked_at"),
                                ("VERIFY_RETENTION_AUDIT_EVENTS", "audit_events", "at")):
        age = age_of_oldest(env, table, column, whole_months=table == "audit_events")
        if age is not None:  # fewer rows than that: the default retention
            sweep_env[name] = f"{age // 60}m"  # the setting takes at most 6 digits
    started = time.monotonic()
    sweep = retention_sweep(sweep_env)
    during = run_wrk(port, script_for("right", sample, key), args.duration, args.connections)
    output, _ = sweep.communicate()
    seconds = time.monotonic() - started
    # What the sweep says it removed, every kind (the table counts would net out the checks written meanwhile).
    removed = sum(int(count) for count in re.findall(r"removed (\d+) row", output))
    archived = sum(path.stat().st_size for path in Path(folder).iterdir())
    shutil.rmtree(folder)
    RETENTION_OUTPUT.append(output.strip())
    return {"right_during_sweep": during,
            "retention": {"skipped": 0.0, "removed": float(removed), "seconds": seconds,
                          "rows_per_s": removed / seconds, "exit": float(sweep.returncode),
                          "archive_bytes": float(archived)}}


def age_of_oldest(env: dict[str, str], table: str, column: str, *, whole_months: bool = False) -> int | None:
    """The age in seconds of the SWEPT_ROWS-th oldest row (through the sweep's own index on the column); with
    `whole_months` (audit events leave a calendar month at a time), of the first month start after it."""
    at = f"date_trunc('month', {column}) + interval '1 month'" if whole_months else column
    with psycopg.connect(plain_url(env), autocommit=True) as conn:
        row = conn.execute(f"SELECT extract(epoch FROM now() - ({at})) FROM {table} "  # noqa: S608
                           f"ORDER BY {column} OFFSET {SWEPT_ROWS} LIMIT 1").fetchone()
    return int(row[0]) if row else None


RETENTION_OUTPUT: list[str] = []




def machine() -> str:
    """CPU model and count."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def header(started: datetime, finished: datetime, load: float, args: argparse.Namespace) -> str:
    """What, when and where."""
    return (f"# Benchmark results\n\nOne run, {started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC, on {machine()} "
            f"(load average {load:.1f} when it started: the machine is shared, so **every figure here is a ratio "
            "within this run**; compare ratios, never absolute numbers across runs).\n\n"
            f"gunicorn 2 sync workers on PostgreSQL 15 + Redis 7 (all on this machine), wrk 1 thread, "
            f"{args.connections} connections, {args.duration} s per scenario after a 2 s warm-up. "
            f"`python bench/run.py --sizes {args.sizes}`.\n")


INSTRUCTIONS = ROOT / "bench" / "instructions.json"


def callgrind_now() -> dict[str, Any]:
    """Instructions per check (service and minimal design), with when they were measured."""
    urls = []
    for _ in range(2):  # two empty databases, claimed until both profile_check.py runs (sharing our claim) end
        url = claim_free_redis_database(REDIS_URL)
        if url is None:
            sys.exit(f"no two empty Redis logical databases at {REDIS_URL}")
        urls.append(url)
    try:
        found: dict[str, Any] = instructions_per_check(urls)
    finally:
        for url in urls:
            release_redis_database(url)
    return {**found, "measured": datetime.now(UTC).isoformat()}


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,1000000,1000000:10000000",
                        help="comma-separated CUSTOMERS or CUSTOMERS:STORED_CHECKS; the first is the reference")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    names = [mode for mode, _ in SCENARIOS if mode not in HOOKED]
    parser.add_argument("--scenarios", default=",".join(names),
                        help=f"comma-separated, run in this order: {', '.join(names)} (a *_half scenario brings "
                             "its peak scenario)")
    parser.add_argument("--keep", action="store_true", help="keep the seeded databases (verify_bench_c*) after the run")
    parser.add_argument("--reuse", action="store_true",
                        help="use databases kept by an earlier --keep run (their earlier runs' checks stay in them)")
    parser.add_argument("--drop", action="store_true", help="drop the kept databases of --sizes and exit")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed the databases of --sizes that are not kept yet, keep them and exit (seeding "
                             "needs no quiet machine; the measuring run afterwards, with --reuse, does)")
    parser.add_argument("--history-verify", action="store_true",
                        help="also run the whole `audit verify` on sizes with stored checks (it reads every event, "
                             "which takes long; by default its code runs over the first 100,000 events)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the interleaved pass (the right PIN on every size in turn; with --keep; "
                             "0: none)")
    parser.add_argument("--no-callgrind", dest="callgrind", action="store_false",
                        help="skip the instructions per check (valgrind, a few minutes); bench/instructions.json, "
                             "written by --callgrind-only, is reported instead when it exists")
    parser.add_argument("--report-only", action="store_true",
                        help="write RESULTS.md again from bench/results.json (and bench/instructions.json)")
    parser.add_argument("--callgrind-only", action="store_true",
                        help="only measure instructions per check, into bench/instructions.json")
    return parser.parse_args()


def main() -> None:
    """Run and write bench/RESULTS.md (raw numbers in bench/results.json)."""
    args = parse_args()
    if args.callgrind_only:
        INSTRUCTIONS.write_text(json.dumps(callgrind_now(), indent=1))
        print(INSTRUCTIONS.read_text())
        return
    if args.report_only:  # e.g. after --callgrind-only finished: the same run's figures, written again
        write_report(json.loads((ROOT / "bench" / "results.json").read_text()), args)
        return
    sizes = [Size.parse(text) for text in args.sizes.split(",")]
    if args.drop:
        for size in sizes:
            drop_database(size.database)
        return
    if args.seed_only:
        for size in sizes:
            env, _, _ = prepare(size, reuse=True)
            release_redis_database(env["VERIFY_REDIS_URL"])
        print(json.dumps({"seeding_seconds": SEEDING}))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    names = [mode for mode, _ in SCENARIOS if mode not in HOOKED]
    wanted = [mode for mode in names if mode in args.scenarios.split(",")]
    unknown = set(args.scenarios.split(",")) - set(names)
    if unknown or not wanted:
        sys.exit(f"unknown scenario(s) {', '.join(sorted(unknown)) or '(none given)'}; choose from {', '.join(names)}")
    for half, full in HALF.items():
        if half in wanted and full not in wanted:
            wanted.insert(wanted.index(half), full)
    started, load = datetime.now(UTC), os.getloadavg()[0]
    results: dict[str, Any] = {size.key: bench_size(size, args, wanted) for size in sizes}
    if args.keep and args.rounds and len(sizes) > 1 and "right" in wanted:
        results["_interleaved"] = interleaved(sizes, args)
    broken = [f"{key} {mode}" for key, by_mode in results.items() for mode in REFERENCES
              if by_mode.get(mode, {}).get("non2xx")]
    results["_run"] = {"started": started.isoformat(), "load_average": load, "seeding": SEEDING,
                       "retention_output": RETENTION_OUTPUT}
    results["_run"]["finished"] = datetime.now(UTC).isoformat()
    results["_run"]["args"] = vars(args)
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=1))  # kept if callgrind fails
    if args.callgrind:
        results["_run"]["instructions"] = callgrind_now()
        (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=1))  # the report reads it
    if broken:  # a reference that answers errors is fast for the wrong reason: every ratio would be wrong
        sys.exit(f"reference scenario(s) answered non-2xx: {', '.join(broken)}; RESULTS.md not written")
    write_report(results, args)


def write_report(results: dict[str, Any], args: argparse.Namespace) -> None:
    """bench/RESULTS.md from a run's results (the notes below the marker are kept)."""
    if "instructions" not in results["_run"] and INSTRUCTIONS.exists():
        results["_run"]["instructions"] = json.loads(INSTRUCTIONS.read_text())
    sizes = [Size.parse(key) for key in results if not key.startswith("_")]
    started = datetime.fromisoformat(results["_run"]["started"])
    finished = datetime.fromisoformat(results["_run"]["finished"])
    run_args = argparse.Namespace(**results["_run"]["args"])
    body = report(results, {size.key: size.label for size in sizes},
                  header(started, finished, results["_run"]["load_average"], run_args))
    (ROOT / "bench" / "RESULTS.md").write_text(body + "\n" + NOTES_MARKER + "\n" + _notes())
    print(body)


NOTES_MARKER = "<!-- notes below are kept across runs -->"
REFERENCES = ("floor", "minimal", "minimal_half")  # scenarios that must answer 2xx for the ratios to mean anything


def _notes() -> str:
    """Hand-written analysis kept below the marker."""
    path = ROOT / "bench" / "RESULTS.md"
    if path.exists() and NOTES_MARKER in path.read_text():
        return path.read_text().split(NOTES_MARKER, 1)[1].lstrip("\n")
    return ""


if __name__ == "__main__":
    main()
