"""The retention turn claimed by several instances at once, and a sweep running while checks are written (issue 20),
on real PostgreSQL (+ Redis) and, where the behaviour applies, SQLite."""

import random
import threading
import time
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from verify_service.adapters.sql.retention import SqlTurns
from verify_service.bootstrap import retention_policy_from

EVERY = timedelta(hours=1)
JITTER = 5.0  # seconds between the instances' clocks (hosts' clocks differ; one reads its clock before the other)


def instances(make_harness, mode, count=2):
    """`count` service instances of one deployment (each its own engine, pool and clock), the schedule empty."""
    first = make_harness(mode, retention_schedule_seconds=int(EVERY.total_seconds()))
    made = [first] + [make_harness(mode, clean=False, retention_schedule_seconds=int(EVERY.total_seconds()))
                      for _ in range(count - 1)]
    with first.services.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM schedule_turns"))
    return made


def race(calls):
    """Run the calls on threads released together: their answers, in order."""
    answers, start = [None] * len(calls), threading.Barrier(len(calls))

    def run(index):
        start.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.parametrize("mode", ["sqlite", "postgres_redis"])
def test_two_instances_racing_for_the_turn_sweep_exactly_once_per_period(make_harness, mode):
    hosts = instances(make_harness, mode)
    start, rng = hosts[0].clock.now(), random.Random(20)
    for period in range(30):
        # Each period's looks fall a little after the period ends, each instance's clock off by up to JITTER.
        base = start + period * (EVERY + timedelta(seconds=2 * JITTER))
        for host in hosts:
            host.clock.current = base + timedelta(seconds=rng.uniform(0, JITTER))
        ran = race([host.services.retention.run_if_due for host in hosts])
        assert sum(reports is not None for reports in ran) == 1, period
        assert all(r.error is None for reports in ran if reports is not None for r in reports)
        for host in hosts:  # a second look in the same period (a tenth of it later) takes nothing
            host.clock.current += EVERY / 10
        assert [host.services.retention.run_if_due() for host in hosts] == [None, None]


@pytest.mark.parametrize("mode", ["sqlite", "postgres_redis"])
def test_an_instance_whose_clock_is_behind_does_not_take_a_turn_just_taken(make_harness, mode):
    hosts = instances(make_harness, mode)
    ahead, behind, now = SqlTurns(hosts[0].services.db), SqlTurns(hosts[1].services.db), hosts[0].clock.now()
    assert ahead.claim("retention", now + timedelta(seconds=2), EVERY)
    assert not behind.claim("retention", now, EVERY)  # read its clock first, or runs 2 s behind: not again
    assert not behind.claim("retention", now + EVERY - timedelta(seconds=1), EVERY)
    assert behind.claim("retention", now + EVERY + timedelta(seconds=2), EVERY)
    assert behind.claim("retention", now - 3 * EVERY, EVERY)  # a clock jumped back by periods: taken again


@pytest.mark.parametrize("mode", ["sqlite", "postgres_redis"])
def test_a_holder_that_died_after_taking_the_turn_is_followed_once_its_period_has_passed(make_harness, mode):
    crashed, other = instances(make_harness, mode)
    assert crashed.services.retention.due()  # took the turn, then died before (or while) sweeping
    crashed.services.close()
    other.clock.current = crashed.clock.now() + EVERY / 2
    assert other.services.retention.run_if_due() is None  # its lease runs for the period
    other.clock.current = crashed.clock.now() + EVERY
    assert other.services.retention.run_if_due() is not None


def test_a_holder_that_died_while_deciding_never_blocks_the_others_and_the_next_look_takes_the_turn(make_harness):
    (host,) = instances(make_harness, "postgres_redis", count=1)
    now = host.clock.now()
    turns = SqlTurns(host.services.db)
    assert turns.claim("retention", now - 2 * EVERY, EVERY)  # the row exists, its last turn long past
    url = host.services.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    holder = psycopg.connect(url)
    holder.execute("SELECT * FROM schedule_turns WHERE name = 'retention' FOR UPDATE")  # deciding, then it hangs
    started = time.monotonic()
    assert not turns.claim("retention", now, EVERY)  # passes at once: never waits on the holder
    assert time.monotonic() - started < 2
    with psycopg.connect(url, autocommit=True) as admin:  # the holder's process dies: its connection drops
        admin.execute("SELECT pg_terminate_backend(%s)", (holder.info.backend_pid,))
    holder.close()
    assert turns.claim("retention", now + EVERY / 10, EVERY)  # the next look takes the turn it never took
    assert not turns.claim("retention", now + EVERY / 5, EVERY)


# ---- a sweep while checks are written ----

OLD_ROWS = 20_000
EDGE = timedelta(minutes=1)


def seed_old_checks(h, template, cutoff):
    """Old check records copied from a real one: OLD_ROWS well past the cutoff, 50 just past it, 50 just inside."""
    columns = [c["name"] for c in sa.inspect(h.services.db.engine).get_columns("verifications")]
    picked = ", ".join("'vold_' || g || '_' || :tag" if c == "id" else (":at - make_interval(secs => g)"
                                                                         if c == "checked_at" else c)
                       for c in columns)
    insert = sa.text(f"INSERT INTO verifications ({', '.join(columns)}) SELECT {picked} "
                     "FROM verifications, generate_series(1, :n) AS g WHERE id = :template")
    with h.services.db.engine.begin() as conn:
        for tag, at, n in (("far", cutoff - timedelta(days=30), OLD_ROWS), ("edge_out", cutoff - EDGE, 50),
                           ("edge_in", cutoff + EDGE + timedelta(seconds=60), 50)):
            conn.execute(insert, {"tag": tag, "at": at, "n": n, "template": template})
        conn.exec_driver_sql("ANALYZE verifications")


def older_and_newer(h, cutoff):
    with h.services.db.engine.connect() as conn:
        older = conn.execute(sa.text("SELECT count(*) FROM verifications WHERE checked_at < :c"), {"c": cutoff})
        newer = conn.execute(sa.text("SELECT count(*) FROM verifications WHERE checked_at >= :c"), {"c": cutoff})
        return older.scalar(), newer.scalar()


def checking(h, accounts, until, latencies, failures):
    """Checks with the right PIN, through the service's own code, until `until` is set; each one timed."""
    rounds = 0
    while not until.is_set() or rounds < 5:
        for account, pin in accounts:
            started = time.monotonic()
            response = h.check(account, pin=pin)
            latencies.append(time.monotonic() - started)
            if response.status_code != 200 or response.get_json()["result"] != "verified":
                failures.append((response.status_code, response.get_json()))
        rounds += 1


def timed_checks(h, accounts, during=None):
    """Three threads checking while `during` runs (or for a fixed number of rounds): latencies and failures."""
    latencies, failures, until = [], [], threading.Event()
    threads = [threading.Thread(target=checking, args=(h, accounts[i::3], until, latencies, failures))
               for i in range(3)]
    for thread in threads:
        thread.start()
    result = during() if during else None
    until.set()
    for thread in threads:
        thread.join(120)
    return latencies, failures, result


def test_a_sweep_while_checks_are_written_slows_no_check_and_removes_only_rows_past_the_setting(make_harness):
    h = make_harness("postgres_redis")
    accounts = [(f"JP{3000 + i}", h.register(f"JP{3000 + i}", phone=f"+8190{55550000 + i}")) for i in range(6)]
    template = h.check(accounts[0][0], pin=accounts[0][1]).get_json()["verification_id"]
    h.clock.advance(401 * 86400)  # the real check is now past the 400-day setting as well
    cutoff = retention_policy_from(h.services.settings).cutoff("verifications", h.clock.now())
    seed_old_checks(h, template, cutoff)
    older, newer = older_and_newer(h, cutoff)
    assert (older, newer) == (OLD_ROWS + 50 + 1, 50)
    quiet, quiet_failures, _ = timed_checks(h, accounts)  # the same checks with no sweep: the baseline
    latencies, failures, reports = timed_checks(h, accounts, lambda: h.services.retention.run(batch=200))
    report = next(report for report in reports if report.kind == "verifications")  # 100 short batches
    assert quiet_failures == [] and failures == []
    assert (report.cutoff, report.error) == (cutoff, None)
    assert report.removed == older  # exactly the rows past the setting...
    assert older_and_newer(h, cutoff) == (0, newer + len(quiet) + len(latencies))  # ...and every newer one stays
    # A check takes no lock a sweep batch holds (it writes new rows and locks the customer row and the chain
    # head, which a sweep never touches), so a check shares only the CPUs and the disk with it: at most a
    # second more than the slowest check without a sweep, on a 2-CPU machine that others use meanwhile.
    bound = max(quiet) + 1.0
    print(f"checks without a sweep: max {max(quiet):.3f}s over {len(quiet)}; "
          f"during the sweep: max {max(latencies):.3f}s over {len(latencies)} (bound {bound:.3f}s)")
    assert max(latencies) < bound
