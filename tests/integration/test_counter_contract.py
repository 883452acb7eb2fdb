"""One contract for the AttemptCounter port: the fake, SQL on SQLite, SQL on PostgreSQL, and Redis.

test_counter_differential.py is the randomized half of this suite: thousands of operation sequences, every answer
compared with the rule's.
"""

import threading
from datetime import timedelta

import pytest

from tests.conftest import make_settings, wipe
from tests.fakes import START, FakeAttemptCounter
from tests.servers import flush_redis
from verify_service.adapters.redis.client import connect
from verify_service.adapters.redis.counters import RedisAttemptCounter
from verify_service.adapters.sql.counters import SqlAttemptCounter
from verify_service.bootstrap import build_services
from verify_service.domain.lockout import AttemptState, LockoutPolicy

POLICY = LockoutPolicy(threshold=5, window=timedelta(hours=24), lock_for=timedelta(hours=24))


@pytest.fixture(params=["fake", "sql_sqlite", "sql_postgres", "redis"])
def counter(request, databases):
    if request.param == "fake":
        yield FakeAttemptCounter()
        return
    if request.param == "redis":
        url = databases["postgres_redis"]["redis_url"]
        flush_redis(url)
        client = connect(url, timeout=1.0)
        yield RedisAttemptCounter(client)
        client.close()
        return
    mode = "sqlite" if request.param == "sql_sqlite" else "postgres"
    services = build_services(make_settings(**databases[mode]))
    wipe(services)
    yield SqlAttemptCounter(services.db)
    services.close()


def at(seconds):
    return START + timedelta(seconds=seconds)


def test_failures_count_up_and_the_threshold_locks(counter):
    outcomes = [counter.record_failure("C1", at(i), POLICY) for i in range(5)]
    assert [o.failures for o in outcomes] == [1, 2, 3, 4, 5]
    assert all(o.counted for o in outcomes)
    assert [o.locked_now for o in outcomes] == [False] * 4 + [True]
    assert outcomes[-1].locked_until == at(4) + timedelta(hours=24)


def test_failures_while_locked_are_not_counted_nor_extend(counter):
    for i in range(5):
        counter.record_failure("C1", at(i), POLICY)
    later = counter.record_failure("C1", at(100), POLICY)
    assert not later.counted and later.locked_until == at(4) + timedelta(hours=24)
    state = counter.state("C1", at(101), POLICY)
    assert state.failures == 5 and state.locked_until == at(4) + timedelta(hours=24)


def test_success_resets_unless_locked(counter):
    counter.record_failure("C1", at(0), POLICY)
    assert counter.record_success("C1", at(1), POLICY) is None
    assert counter.state("C1", at(2), POLICY).failures == 0
    for i in range(5):
        counter.record_failure("C1", at(10 + i), POLICY)
    assert counter.record_success("C1", at(20), POLICY) == at(14) + timedelta(hours=24)


def test_expired_lock_resets_the_count(counter):
    for i in range(5):
        counter.record_failure("C1", at(i), POLICY)
    after = at(4) + timedelta(hours=24)
    assert counter.state("C1", after, POLICY).failures == 0
    outcome = counter.record_failure("C1", after, POLICY)
    assert outcome.counted and outcome.failures == 1 and outcome.locked_until is None


def test_window_drops_old_failures(counter):
    for i in range(4):
        counter.record_failure("C1", at(i), POLICY)
    outcome = counter.record_failure("C1", at(10) + timedelta(hours=24), POLICY)
    assert outcome.failures == 1 and outcome.locked_until is None


def test_a_running_lock_keeps_counting_the_failures_that_set_it(counter):
    """Issue 9's case: failures at 0, 20, 21, 22, 23 h, asked at 25 h: 5 (Redis said 5, SQL said 4)."""
    for hours in (0, 20, 21, 22, 23):
        counter.record_failure("C1", at(hours * 3600), POLICY)
    assert counter.state("C1", at(25 * 3600), POLICY) == AttemptState(5, at(47 * 3600))
    assert counter.record_failure("C1", at(25 * 3600), POLICY).failures == 5


def test_a_query_changes_nothing(counter):
    """Asking after the lock ended, or after the failures aged out, changes no answer about earlier moments."""
    for i in range(5):
        counter.record_failure("C1", at(i), POLICY)
    during = counter.state("C1", at(3600), POLICY)
    assert counter.state("C1", at(4) + timedelta(hours=24), POLICY) == AttemptState(0, None)
    assert counter.state("C1", at(3600), POLICY) == during == AttemptState(5, at(4) + timedelta(hours=24))
    for i in range(3):
        counter.record_failure("C2", at(i), POLICY)
    assert counter.state("C2", at(10) + timedelta(hours=24), POLICY).failures == 0
    assert counter.state("C2", at(10), POLICY) == AttemptState(3, None)


def test_customers_are_counted_apart(counter):
    for i in range(5):
        counter.record_failure("C1", at(i), POLICY)
    assert counter.state("C2", at(5), POLICY).failures == 0
    assert counter.record_failure("C2", at(5), POLICY).failures == 1


def test_clear_forgets_failures_and_lock(counter):
    for i in range(5):
        counter.record_failure("C1", at(i), POLICY)
    counter.clear("C1")
    state = counter.state("C1", at(6), POLICY)
    assert state.failures == 0 and state.locked_until is None


def test_thirty_simultaneous_failures_count_exactly_the_threshold(counter):
    barrier, outcomes, lock = threading.Barrier(30), [], threading.Lock()

    def hammer():
        barrier.wait()
        outcome = counter.record_failure("C1", at(0), POLICY)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=hammer) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(o.counted for o in outcomes) == 5
    assert sum(o.locked_now for o in outcomes) == 1
    assert sorted(o.failures for o in outcomes if o.counted) == [1, 2, 3, 4, 5]
