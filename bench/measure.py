"""What bench/run.py measures besides wrk: bytes per check, `audit verify`, instructions per check, retention.

Each function runs beside the load (never during it, except the retention scenario, whose point is the overlap).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Every table a check writes, and the ones beside it that grow with checks.
CHECK_TABLES = ("verifications", "audit_events", "audit_heads", "customers", "attempt_counters", "agent_activity")


def flask(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`flask --app wsgi ARGS` in the bench's environment."""
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=check,
                          capture_output=True, text=True)


def plain_url(env: dict[str, str]) -> str:
    """The service's database URL as psycopg takes it."""
    return env["VERIFY_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")


def table_sizes(env: dict[str, str]) -> dict[str, int]:
    """pg_total_relation_size (heap, TOAST and indexes) of each table a check grows, and the row count of
    verifications (one per check)."""
    with psycopg.connect(plain_url(env), autocommit=True) as conn:
        present = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        sizes = {name: conn.execute("SELECT pg_total_relation_size(%s)", (name,)).fetchone()[0]  # type: ignore
                 for name in CHECK_TABLES if name in present}
        sizes["checks"] = conn.execute("SELECT count(*) FROM verifications").fetchone()[0]  # type: ignore[index]
    return sizes


def seq_scans(env: dict[str, str]) -> dict[str, int]:
    """Sequential scans so far of each table a check touches (pg_stat_user_tables): a check must use indexes only."""
    with psycopg.connect(plain_url(env), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        rows = conn.execute("SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                            (list(CHECK_TABLES),)).fetchall()
    return {name: int(count) for name, count in rows}


def bytes_per_check(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """Growth of each table divided by the checks made in between (and the checks, for the record)."""
    checks = after["checks"] - before["checks"]
    grown = {name: (after[name] - before[name]) / checks for name in after if name != "checks"} if checks else {}
    return {**grown, "total": sum(grown.values()), "checks": float(checks)}


def audit_verify(env: dict[str, str]) -> dict[str, float | str]:
    """`flask audit verify --no-anchor` timed, with its peak memory (maxrss of that process alone)."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "audit", "verify", "--no-anchor"], cwd=ROOT,
                                   env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        last = out.read().strip().splitlines()[-1]
    found = re.search(r"(\d+) event\(s\) in (\d+) chain", last)
    events = int(found.group(1)) if found else 0
    return {"line": last, "intact": float(last.startswith("audit trail intact")), "events": float(events),
            "seconds": seconds, "events_per_s": events / seconds, "maxrss_mb": usage.ru_maxrss / 1024}


SAMPLE_SCRIPT = """
import dataclasses, itertools, json, resource, sys, time
from verify_service import create_app
from verify_service.domain.audit import verify_chains
services = create_app().extensions["verify"]
limit, seen = int(sys.argv[1]), [0]

def counted(events):
    for event in events:
        seen[0] += 1
        yield event

def states(chains):
    for state in chains:  # whole chains, until `limit` events were read
        if seen[0] >= limit:
            return
        yield dataclasses.replace(state, events=counted(state.events))

with services.audit._uow(snapshot=True) as uow:
    started = time.monotonic()
    chains = uow.audit.chains()
    first = next(chains)
    first_s = time.monotonic() - started
    report = verify_chains(states(itertools.chain([first], chains)), services.audit._signer)
    seconds = time.monotonic() - started
altered = [p for p in report.problems if "altered" in p or "missing" in p or "prev_hash" in p or "order" in p]
print(json.dumps({"events": report.events, "chains": report.chains, "first_chain_s": first_s, "seconds": seconds,
                  "events_per_s": report.events / seconds, "problems": len(altered),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def audit_verify_sample(env: dict[str, str], limit: int) -> dict[str, float]:
    """`audit verify`'s own code (`chains()`, streamed chain by chain with its head and cut, and verify_chains)
    over the first `limit` events of a large trail: its rate, the wait for the first chain, and peak memory."""
    done = subprocess.run([str(BIN / "python"), "-c", SAMPLE_SCRIPT, str(limit)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"audit verify's sample failed:\n{done.stderr[-3000:]}")
    return {name: float(value) for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def callgrind_window(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """bench/profile_check.py under callgrind, counting only the checks after its warm-up (--callgrind)."""
    log = Path(env["CALLGRIND_OUT"]).with_name("output.log").open("w")  # read back when it fails
    return subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={env['CALLGRIND_OUT']}",
                             str(BIN / "python"), "bench/profile_check.py", "--callgrind", *args], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _window_total(folder: Path) -> float:
    """The instructions (Ir) of the dump profile_check named `window`."""
    for dump in sorted(folder.glob("callgrind.out*")):
        with dump.open() as handle:
            head = "".join(handle.readline() for _ in range(30))
        if "Trigger: dump window" in head:
            return float(re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.M).group(1))  # type: ignore
    raise RuntimeError(f"callgrind wrote no `window` dump in {folder}")


def instructions_per_check(redis_urls: list[str], customers: int = 200, checks: int = 200) -> dict[str, float]:
    """Instructions per PIN check, the service's and the minimal design's (both at once), in-process under
    callgrind; each in a PostgreSQL database of its own and one of the given (empty) Redis databases."""
    from tests.servers import OWNER  # the claim on redis_urls that the two runs share

    result = {}
    with tempfile.TemporaryDirectory() as folder:
        runs = {}
        for (name, extra), redis_url in zip((("service", ()), ("minimal", ("--minimal",))), redis_urls, strict=True):
            (Path(folder) / name).mkdir()
            env = {**os.environ, "BENCH_PROFILE_DATABASE": f"verify_bench_callgrind_{name}_{os.getpid()}",
                   "BENCH_REDIS_URL": redis_url, "CALLGRIND_OUT": str(Path(folder) / name / "callgrind.out"),
                   "VERIFY_REDIS_CLAIM_OWNER": OWNER}  # the child holds our claim: no one takes it meanwhile
            runs[name] = callgrind_window(env, "--customers", str(customers), "--checks", str(checks), *extra)
        for name, process in runs.items():
            if process.wait() != 0:
                tail = (Path(folder) / name / "output.log").read_text()[-2000:]
                raise RuntimeError(f"profile_check.py ({name}) under callgrind exited {process.returncode}:\n{tail}")
            result[name] = _window_total(Path(folder) / name) / checks
    with psycopg.connect(os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                         autocommit=True) as conn:
        for name in runs:
            conn.execute(f'DROP DATABASE IF EXISTS "verify_bench_callgrind_{name}_{os.getpid()}" WITH (FORCE)')
    return result


def retention_available(env: dict[str, str]) -> bool:
    """Whether this tree has `flask retention run` (issue 20 item 1, built on another branch)."""
    return flask(env, "retention", "--help", check=False).returncode == 0


def retention_sweep(env: dict[str, str]) -> subprocess.Popen[str]:
    """Start `flask retention run` (the scenario hook: bench/run.py runs the check's load while it sweeps)."""
    return subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "retention", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

