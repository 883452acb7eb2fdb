"""Profile PIN checks in-process (Flask test client, PostgreSQL + Redis mode), one request at a time.

    python bench/profile_check.py [--checks 2000] [--top 40] [--sort tottime|cumulative] [--wall]

Instructions per check, repeatable on a shared machine: run it under `valgrind --tool=callgrind` with
`--callgrind --customers 200 --checks 200`: after the warm-up it zeroes callgrind's counters, runs the checks and
dumps them as the dump named `window` (bench/measure.py divides its total by the checks; `bench/run.py` does this
for the service and the minimal design in every run). The older way gives the same figure: `--wall --customers 200
--checks 1` and `... --checks 201`, and the difference divided by 200.
BENCH_PROFILE_DATABASE and BENCH_REDIS_URL give parallel runs their own database.

The profile counts this process's CPU time (waits on PostgreSQL and Redis do not show). `--wall` skips
the profiler and prints the mean wall and CPU time of one check (the profiler's own overhead inflates
Python-heavy code, so read its shares, and use --wall for absolute numbers). `--trace` prints what one
check sends to PostgreSQL.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import seed  # noqa: E402
from tests.servers import claim_redis_database, flush_redis  # noqa: E402
from verify_service import create_app  # noqa: E402
from verify_service.config import load_settings  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PIN_KEYS = "bench:bench-pin-key-0000000000000000000000000000"


def _callgrind_control(option: str) -> None:
    """Ask the callgrind running this process to zero or dump its counters, and wait until it has.

    Callgrind reads such requests only while this process runs code, so it sleeps in short steps meanwhile
    (a few thousand instructions, against millions per check).
    """
    control = subprocess.Popen(["callgrind_control", option, str(os.getpid())], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while control.poll() is None:
        time.sleep(0.005)


def main() -> None:
    """Fresh database, 1,000 customers, then profile or time the checks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--wall", action="store_true")
    parser.add_argument("--customers", type=int, default=1000,
                        help="how many customers the checks go round (each is checked once in the warm-up)")
    parser.add_argument("--trace", action="store_true", help="print what one check sends to PostgreSQL")
    parser.add_argument("--save", help="also write the profile to this file (pstats), e.g. to compare by package")
    parser.add_argument("--callgrind", action="store_true",
                        help="under valgrind --tool=callgrind: count only the checks after the warm-up (dump `window`)")
    parser.add_argument("--minimal", action="store_true",
                        help="profile the minimal design (bench/minimal_app.py) instead of the service")
    args = parser.parse_args()
    name = os.environ.get("BENCH_PROFILE_DATABASE", "verify_bench_profile")  # parallel runs: one each
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    if not claim_redis_database(REDIS_URL):  # flush only an empty database or one marked as ours
        sys.exit(f"{REDIS_URL} holds keys that are not this run's: point BENCH_REDIS_URL at an empty database")
    flush_redis(REDIS_URL)
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    settings = load_settings({}, env="test", database_url=url, redis_url=REDIS_URL, pin_keys=PIN_KEYS,
                             rate_limit_per_second=0, failure_window_seconds=1, outbox_inprocess=False)
    app = create_app(settings=settings)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    services = app.extensions["verify"]
    secret = services.keys.create("bench", ["agent"])[1]
    sample = seed(url, max(args.customers, 1), PIN_KEYS, max(args.customers, 1))
    if args.minimal:  # the same database, key and customers; the minimal app reads its settings from the env
        os.environ.update({"VERIFY_ENV": "test", "VERIFY_DATABASE_URL": url, "VERIFY_REDIS_URL": REDIS_URL,
                           "VERIFY_PIN_KEYS": PIN_KEYS, "VERIFY_FAILURE_WINDOW_SECONDS": "1"})
        from bench.minimal_app import app as minimal_app

        client = minimal_app.test_client()
    else:
        client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    def check(i: int) -> None:
        account_id, pin = sample[i % args.customers]
        response = client.post("/v1/verifications", headers=headers,
                               json={"account_id": account_id, "channel": "phone", "agent_id": "bench", "pin": pin})
        assert response.status_code == 200, response.get_json()

    for i in range(args.customers):  # warm up: connections, prepared statements, every customer's audit head
        check(i)
    if args.trace:
        from psycopg import Connection

        original_command, original_execute = Connection._exec_command, psycopg.Cursor.execute
        Connection._exec_command = lambda self, command, *a, **k: (  # type: ignore[method-assign]
            print("command:", command), original_command(self, command, *a, **k))[1]
        psycopg.Cursor.execute = lambda self, query, *a, **k: (  # type: ignore[method-assign]
            print("execute:", str(query)[:100].replace("\n", " ")), original_execute(self, query, *a, **k))[1]
        check(0)
        Connection._exec_command, psycopg.Cursor.execute = original_command, original_execute  # type: ignore
    if args.callgrind:
        _callgrind_control("--zero")
        for i in range(args.checks):
            check(i)
        _callgrind_control("--dump=window")
    elif args.wall:
        cpu = time.process_time()
        started = time.perf_counter()
        for i in range(args.checks):
            check(i)
        print(f"{(time.perf_counter() - started) / args.checks * 1000:.3f} ms per check (wall, one at a time), "
              f"{(time.process_time() - cpu) / args.checks * 1000:.3f} ms CPU in this process")
    else:
        profiler = cProfile.Profile(time.process_time)  # CPU time: waits on PostgreSQL/Redis do not count
        profiler.enable()
        for i in range(args.checks):
            check(i)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
        if args.save:
            profiler.dump_stats(args.save)
    services.close()


if __name__ == "__main__":
    main()
