"""Load benchmark: gunicorn (2 workers) on PostgreSQL + Redis, wrk on loopback, ratios within one run.

    python bench/run.py [--sizes 1000,1000000] [--duration 10] [--connections 16] [--scenarios floor,minimal,right]

Every scenario is compared with two references measured in the same run: the floor (a bare Flask
endpoint, bench/floor_app.py) and the minimal design (bench/minimal_app.py: what any correct check
must do, one PostgreSQL read, one Redis EVALSHA and one single-statement durable write).

Writes bench/RESULTS.md. Needs wrk (apt-get install wrk), PostgreSQL and Redis
(BENCH_POSTGRES_URL, BENCH_REDIS_URL; local defaults). Each run works in a database and a Redis
logical database of its own, so runs from several worktrees on one machine do not disturb each other
(they still share its CPUs).
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
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import seed  # noqa: E402
from tests.servers import (  # noqa: E402
    claim_free_redis_database,
    claim_redis_database,
    flush_redis,
    free_port,
    release_redis_database,
)

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
SCENARIOS = [("floor", "bare Flask JSON endpoint (the floor)"),
             ("minimal", "minimal design, right PIN (1 read, 1 EVALSHA, 1 single-statement durable write)"),
             ("right", "PIN check, right PIN"),
             ("wrong", "PIN check, wrong PIN"), ("code", "PIN + code (code path; codes are single-use, "
             "so this measures lookup + mismatch)"), ("send", "code send (challenge + outbox + audit)"),
             ("summary", "customer summary read"),
             ("right_half", "PIN check, right PIN, at about half its peak rate"),
             ("minimal_half", "minimal design, at about half its peak rate (the host's own tail, for the p99 above)")]
# A half-peak scenario runs its peak scenario's app at about half the rate that scenario reached.
HALF = {"right_half": "right", "minimal_half": "minimal"}
APPS = {"floor": "bench.floor_app:app", "minimal": "bench.minimal_app:app"}  # every other scenario: wsgi:app


def wait_for(url: str, seconds: float = 30) -> None:
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


def database_name(size: int) -> str:
    """This run's own database: several runs (other worktrees) may share the machine."""
    return f"verify_bench_{size}_{os.getpid()}"


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


def release(env: dict[str, str], size: int) -> None:
    """Drop this run's database and give back its Redis database."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database_name(size)}" WITH (FORCE)')
    release_redis_database(env["VERIFY_REDIS_URL"])


def prepare(size: int) -> tuple[dict[str, str], list[tuple[str, str]], str]:
    """A fresh database and Redis of this run's own, `size` customers; the env, a sample with PINs, an agent key."""
    name = database_name(size)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = claim_redis()
    flush_redis(redis_url)
    env = {**os.environ, "VERIFY_ENV": "test", "VERIFY_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + name,
           "VERIFY_REDIS_URL": redis_url, "VERIFY_PIN_KEYS": PIN_KEYS, "VERIFY_RATE_LIMIT_PER_SECOND": "0",
           "VERIFY_FAILURE_WINDOW_SECONDS": "1", "VERIFY_CODE_RESEND_SECONDS": "0",
           "VERIFY_CODE_MAX_SENDS_PER_HOUR": "1000000000",
           "VERIFY_SMS_MAX_PER_KEY_PER_HOUR": "1000000000", "VERIFY_SMS_MAX_PER_HOUR": "1000000000",
           "VERIFY_SMS_MAX_PER_NUMBER_PER_HOUR": "1000000000",
           "GUNICORN_DRAIN_SECONDS": "0", "VERIFY_OUTBOX_INPROCESS": "false",
           "VERIFY_DELIVERY_BACKEND": "console"}  # gunicorn.conf.py makes (and removes) the metrics folder
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    key = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "keys", "create", "--name", "bench", "--role",
                          "agent"], cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    started = time.monotonic()
    sample = seed(env["VERIFY_DATABASE_URL"], size, PIN_KEYS, SAMPLE)
    print(f"seeded {size} customers in {time.monotonic() - started:.1f} s", flush=True)
    return env, sample, key.strip().splitlines()[-1]


def audit_verify(env: dict[str, str]) -> str:
    """`flask audit verify` over everything the run wrote (the minimal design's events included)."""
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "audit", "verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    return (done.stdout or done.stderr).strip().splitlines()[-1]


def bench_size(size: int, duration: int, connections: int, wanted: list[str]) -> dict[str, dict[str, float]]:
    """The wanted scenarios at full load, then the PIN check at half its peak rate; one app per server."""
    env, sample, key = prepare(size)
    results: dict[str, dict[str, float]] = {}
    apps = {APPS.get(mode, "wsgi:app") for mode in wanted if mode not in HALF}
    ports = {app: free_port() for app in apps}
    servers = [gunicorn(app, env, port) for app, port in ports.items()]
    try:
        for mode in wanted:
            if mode in HALF:
                continue
            target = ports[APPS.get(mode, "wsgi:app")]
            run_wrk(target, script_for(mode, sample, key), 2, connections)  # warm up
            results[mode] = run_wrk(target, script_for(mode, sample, key), duration, connections)
            print(size, mode, results[mode], flush=True)
        for half, full in HALF.items():
            if half not in wanted:
                continue
            # wrk has no fixed rate; a per-connection pause gives about half the peak.
            pause = max(1, int(connections * 1000 / (results[full]["rps"] / 2)))
            results[half] = run_wrk(ports[APPS.get(full, "wsgi:app")], script_for(full, sample, key, pause), duration,
                                    connections)
            print(size, full, "at half peak", results[half], flush=True)
    finally:
        for process in servers:
            process.terminate()
            process.wait(timeout=30)
    audit = audit_verify(env)
    release(env, size)
    print(size, audit, flush=True)
    results["audit"] = {"intact": float(audit.startswith("audit trail intact"))}
    NOTES_AUDIT[size] = audit
    return results


NOTES_AUDIT: dict[int, str] = {}


def machine() -> str:
    """CPU model and count."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} CPUs, {system}, Python {platform.python_version()}"


def _ratio(value: float, reference: dict[str, float] | None) -> str:
    """A throughput ratio, or a dash when the reference was not measured in this run."""
    return f"{value / reference['rps']:.0%}" if reference else "–"


def report(all_results: dict[int, dict[str, dict[str, float]]], duration: int, connections: int) -> str:
    """RESULTS.md."""
    small, large = min(all_results), max(all_results)
    lines = [f"# Benchmark results\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.\n",
             f"gunicorn 2 sync workers on PostgreSQL 15 + Redis 7 (all on this machine), wrk 1 thread, "
             f"{connections} connections, {duration} s per scenario after a 2 s warm-up. `python bench/run.py`.\n"]
    for size in sorted(all_results):
        res = all_results[size]
        floor, minimal = res.get("floor"), res.get("minimal")
        lines.append(f"\n## {size:,} customers\n\n"
                     "| scenario | requests/s | p50 ms | p99 ms | vs floor | vs minimal | non-2xx |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for mode, label in SCENARIOS:
            if mode not in res:
                continue
            r = res[mode]
            lines.append(f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                         f"{_ratio(r['rps'], floor)} | {_ratio(r['rps'], minimal)} | {r['non2xx']:.0f} |")
        if size in NOTES_AUDIT:
            lines.append(f"\nAfter the run, `flask audit verify`: {NOTES_AUDIT[size]}.")
    if small != large:
        lines.append(f"\n## {large:,} vs {small:,} customers\n\n| scenario | throughput ratio | p50 ratio |")
        lines.append("| --- | ---: | ---: |")
        for mode, label in SCENARIOS[1:]:
            if mode not in all_results[large] or mode not in all_results[small]:
                continue
            a, b = all_results[large][mode], all_results[small][mode]
            lines.append(f"| {label} | {a['rps'] / b['rps']:.2f} | {a['p50'] / b['p50']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run and write bench/RESULTS.md (raw numbers in bench/results.json)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    names = [mode for mode, _ in SCENARIOS]
    parser.add_argument("--scenarios", default=",".join(names),
                        help=f"comma-separated, run in this order: {', '.join(names)} (a *_half scenario brings "
                             "its peak scenario)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    wanted = [mode for mode in names if mode in args.scenarios.split(",")]
    unknown = set(args.scenarios.split(",")) - set(names)
    if unknown or not wanted:
        sys.exit(f"unknown scenario(s) {', '.join(sorted(unknown)) or '(none given)'}; choose from {', '.join(names)}")
    for half, full in HALF.items():
        if half in wanted and full not in wanted:
            wanted.insert(wanted.index(half), full)
    results = {size: bench_size(size, args.duration, args.connections, wanted)
               for size in (int(s) for s in args.sizes.split(","))}
    broken = [f"{size} {mode}" for size, by_mode in results.items() for mode in REFERENCES
              if by_mode.get(mode, {}).get("non2xx")]
    if broken:  # a reference that answers errors is fast for the wrong reason: every ratio would be wrong
        sys.exit(f"reference scenario(s) answered non-2xx: {', '.join(broken)}; RESULTS.md not written")
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=1))
    body = report(results, args.duration, args.connections)
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
