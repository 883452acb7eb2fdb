"""The retention sweep's rate on PostgreSQL, and what it does to the checks running meanwhile.

    python bench/retention_sweep.py [--rows 1000000] [--batch 1000] [--checks 2000]

A fresh database with 1,000 customers and `--rows` check records older than any retention, seeded in bulk
(INSERT ... SELECT generate_series). The PIN check then runs one at a time in-process (Flask test client,
PostgreSQL + Redis mode): first alone, then while the `verifications` sweep removes every seeded row on another
thread. Prints the sweep's rows per second and the checks' p50/p99 without and with the sweep.
BENCH_POSTGRES_URL, BENCH_REDIS_URL and BENCH_SWEEP_DATABASE give parallel runs their own database.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import seed  # noqa: E402
from tests.servers import claim_redis_database, flush_redis  # noqa: E402
from verify_service import create_app  # noqa: E402
from verify_service.adapters.sql.retention import SqlSweep  # noqa: E402
from verify_service.adapters.sql.tables import verifications  # noqa: E402
from verify_service.config import load_settings  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
PIN_KEYS = "bench:bench-pin-key-0000000000000000000000000000"
SEED_SQL = """
INSERT INTO verifications (id, account_id, verified, result, factor_pin, factor_code, level, attempts_remaining,
                           checked_at, channel, agent_id, actor, entry)
SELECT 'ver_old_' || g, 'BENCH' || lpad((g %% 1000)::text, 7, '0'), true, 'verified', 'match', 'not_checked', 1, 5,
       %s - (g || ' seconds')::interval, 'phone', 'bench', 'bench', 'agent'
FROM generate_series(1, %s) AS g
"""


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of them lie (ms)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def fresh(name: str) -> str:
    """An empty database of this run's own, and its URL."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def timed_checks(client: Any, headers: dict[str, str], sample: list[tuple[str, str]], count: int,
                 until: threading.Event | None = None) -> list[float]:
    """Latencies (ms) of `count` checks one at a time (or until `until` is set, at least `count`)."""
    latencies: list[float] = []
    i = 0
    while i < count or (until is not None and not until.is_set()):
        account_id, pin = sample[i % len(sample)]
        started = time.perf_counter()
        response = client.post("/v1/verifications", headers=headers,
                               json={"account_id": account_id, "channel": "phone", "agent_id": "bench", "pin": pin})
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_json()
        i += 1
    return latencies


def main() -> None:
    """Seed, time the checks alone, then with the sweep running."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=2000)
    args = parser.parse_args()
    logging.getLogger("verify_service.access").setLevel(logging.WARNING)  # one line a check on stdout otherwise
    url = fresh(os.environ.get("BENCH_SWEEP_DATABASE", "verify_bench_sweep"))
    if not claim_redis_database(REDIS_URL):
        sys.exit(f"{REDIS_URL} holds keys that are not this run's: point BENCH_REDIS_URL at an empty database")
    flush_redis(REDIS_URL)
    settings = load_settings({}, env="test", database_url=url, redis_url=REDIS_URL, pin_keys=PIN_KEYS,
                             rate_limit_per_second=0, failure_window_seconds=1, outbox_inprocess=False)
    app = create_app(settings=settings)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    services = app.extensions["verify"]
    headers = {"Authorization": f"Bearer {services.keys.create('bench', ['agent'])[1]}"}
    sample = seed(url, 1000, PIN_KEYS, 1000)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SEED_SQL, (now - timedelta(days=500), args.rows))
        conn.execute("ANALYZE verifications")
    print(f"seeded {args.rows:,} old check records in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    timed_checks(client, headers, sample, 1000)  # warm up
    alone = timed_checks(client, headers, sample, args.checks)
    sweep = SqlSweep(services.db, "verifications", verifications.c.checked_at)
    done, result = threading.Event(), dict[str, float]()

    def run_sweep() -> None:
        began = time.perf_counter()
        result["removed"] = sweep.run(now - timedelta(days=400), dry_run=False, batch=args.batch)
        result["seconds"] = time.perf_counter() - began
        done.set()

    thread = threading.Thread(target=run_sweep)
    thread.start()
    during = timed_checks(client, headers, sample, args.checks, until=done)
    thread.join()
    rate = result["removed"] / result["seconds"]
    print(f"sweep: {result['removed']:,} rows in {result['seconds']:.1f} s = {rate:,.0f} rows/s (batch {args.batch})")
    for name, values in (("checks alone", alone), ("checks during the sweep", during)):
        print(f"{name}: {len(values)} checks, p50 {statistics.median(values):.2f} ms, "
              f"p99 {percentile(values, 0.99):.2f} ms")
    print(f"p99 ratio (during / alone): {percentile(during, 0.99) / percentile(alone, 0.99):.2f}")
    services.close()


if __name__ == "__main__":
    main()
