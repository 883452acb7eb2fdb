"""`audit verify` and `audit archive` on a large trail: events per second and peak memory (issue 20.2 and 20.4).

Seeds N chained events (valid HMACs, `--per-chain` events per customer chain, spread over 13 months) straight
into a PostgreSQL database of its own with COPY, then runs the real commands (`flask --app wsgi audit ...`)
under `/usr/bin/time -v` for their wall time and maximum resident set size.

    .venv/bin/python bench/audit_trail.py --events 200000 --events 1000000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from verify_service.adapters.crypto import AuditSigner  # noqa: E402
from verify_service.adapters.sql.tables import metadata  # noqa: E402
from verify_service.domain.audit import CHAIN_FORMAT, GENESIS_HASH, chain_input  # noqa: E402
from verify_service.domain.model import AuditEvent  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql://postgres@127.0.0.1:5432"
AUDIT_KEYS = "bench:bench-audit-key-only-for-this-benchmark-0000"
START = datetime(2025, 11, 1, tzinfo=UTC)
COLUMNS = ("id, chain, seq, at, event, account_id, actor, agent_id, channel, ticket_ref, ip, details, prev_hash, "
           "hash, key_id, chain_format")


def fresh_database(name: str) -> str:
    """An empty database with the current schema."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = f"{SERVER}/{name}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    metadata.create_all(engine)
    engine.dispose()
    return url


def seed(url: str, events: int, per_chain: int) -> None:
    """`events` chained events, round-robin over events/per_chain chains, in time order over 13 months."""
    signer = AuditSigner.from_setting(AUDIT_KEYS)
    chains = max(1, events // per_chain)
    heads = [(0, GENESIS_HASH)] * chains
    step = timedelta(days=395) / events
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        with cursor.copy(f"COPY audit_events ({COLUMNS}) FROM STDIN") as copy:
            for n in range(events):
                index = n % chains
                chain, at = f"BENCH{index:07d}", START + step * n
                event = AuditEvent(event="verification_succeeded", at=at, account_id=chain, actor="bench-agent",
                                   agent_id="agent-42", channel="phone", details={"factor": "pin"})
                seq, prev = heads[index]
                digest = signer.sign("bench", chain_input(prev, chain, seq + 1, event, n + 1))
                copy.write_row((n + 1, chain, seq + 1, at, event.event, chain, event.actor, event.agent_id,
                                event.channel, None, None, '{"factor": "pin"}', prev, digest, "bench", CHAIN_FORMAT))
                heads[index] = (seq + 1, digest or "")
        with cursor.copy("COPY audit_heads (chain, seq, hash) FROM STDIN") as copy:
            for index, (seq, digest) in enumerate(heads):
                copy.write_row((f"BENCH{index:07d}", seq, digest))
        cursor.execute(f"SELECT setval('audit_events_id_seq', {events})")
        conn.commit()
        cursor.execute("ANALYZE")


def timed(url: str, *args: str, archive: str | None = None) -> tuple[float, int, str]:
    """Run `flask --app wsgi ARGS`: wall seconds, maximum RSS in kB, output."""
    env = {**os.environ, "VERIFY_DATABASE_URL": url, "VERIFY_AUDIT_KEYS": AUDIT_KEYS, "VERIFY_ENV": "development",
           "VERIFY_OUTBOX_INPROCESS": "false"}
    if archive:
        env["VERIFY_AUDIT_ARCHIVE_DIR"] = archive
    command = ["/usr/bin/time", "-v", str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args]
    began = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])  # type: ignore[index]
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")
    return seconds, rss, done.stdout


def measure(events: int, per_chain: int) -> list[str]:
    """Seed, verify, archive half, verify with the archive: one table row per step."""
    url = fresh_database(f"verify_bench_audit_{events}")
    began = time.perf_counter()
    seed(url, events, per_chain)
    rows = [f"| {events:,} | seed (COPY, HMACs in Python) | {time.perf_counter() - began:.1f} s | | |"]
    idle = timed(url, "outbox", "status")[1]
    seconds, rss, _ = timed(url, "audit", "verify", "--no-anchor")
    rows.append(f"| {events:,} | `audit verify` | {seconds:.1f} s | {events / seconds:,.0f} | {rss / 1024:.0f} MB |")
    with tempfile.TemporaryDirectory() as folder:
        seconds, rss, out = timed(url, "audit", "archive", "--before", "2026-05-01", archive=folder)
        moved = int(re.search(r"deleted (\d+)", out)[1])  # type: ignore[index]
        rows.append(f"| {events:,} | `audit archive` ({moved:,} events, 6 segments) | {seconds:.1f} s | "
                    f"{moved / seconds:,.0f} | {rss / 1024:.0f} MB |")
        seconds, rss, _ = timed(url, "audit", "verify", "--no-anchor", "--archive", folder, archive=folder)
        rows.append(f"| {events:,} | `audit verify --archive` (all {events:,}) | {seconds:.1f} s | "
                    f"{events / seconds:,.0f} | {rss / 1024:.0f} MB |")
    rows.append(f"| {events:,} | (the same process doing nothing: `outbox status`) | | | {idle / 1024:.0f} MB |")
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE verify_bench_audit_{events}")
    return rows


def main() -> None:
    """Print a Markdown table of the measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, action="append", required=True)
    parser.add_argument("--per-chain", type=int, default=10, help="events per customer chain (default 10)")
    options = parser.parse_args()
    print("| events | step | time | events/s | peak RSS |")
    print("|---|---|---|---|---|")
    for events in options.events:
        for row in measure(events, options.per_chain):
            print(row, flush=True)


if __name__ == "__main__":
    main()
