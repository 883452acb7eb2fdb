"""The Redis counter counts a check once, by its id: a repeat of its script, or one arriving after its undo, is a no-op.

Only Redis needs this: a script that timed out may still run (queued behind a slow one), and its client may have
sent it twice. SQL counters commit or not, and are never retried.
"""

from datetime import timedelta

import pytest

from tests.fakes import START
from tests.servers import flush_redis
from verify_service.adapters.redis.agent_watch import RedisAgentActivity
from verify_service.adapters.redis.client import connect
from verify_service.adapters.redis.counters import RedisAttemptCounter
from verify_service.domain.agent_watch import Activity, CarriedAct, Subject, WindowCounts
from verify_service.domain.lockout import AttemptState, LockoutPolicy

POLICY = LockoutPolicy(threshold=3, window=timedelta(hours=24), lock_for=timedelta(hours=24))
WINDOW = timedelta(minutes=10)


@pytest.fixture
def stores(databases):
    url = databases["postgres_redis"]["redis_url"]
    flush_redis(url)
    client = connect(url, timeout=1.0)
    activity = RedisAgentActivity(client)
    yield RedisAttemptCounter(client, watch=activity), activity
    client.close()


def at(seconds):
    return START + timedelta(seconds=seconds)


def act(ref):
    return CarriedAct((Subject("agent", "a1"),), "C1", ref, WINDOW)


def test_a_second_run_of_the_same_checks_failure_changes_nothing(stores):
    counter, _ = stores
    counter.record_failure("C1", at(0), POLICY, check_id="ver_1")
    again = counter.record_failure("C1", at(0), POLICY, check_id="ver_1")
    assert again.counted and again.failures == 1  # the answer of the first run
    assert counter.state("C1", at(1), POLICY) == AttemptState(1, None)


def test_the_failure_that_locked_answers_the_same_when_run_again(stores):
    counter, _ = stores
    for i in range(3):
        first = counter.record_failure("C1", at(i), POLICY, check_id=f"ver_{i}")
    again = counter.record_failure("C1", at(2), POLICY, check_id="ver_2")
    assert again == first and again.locked_now


def test_an_undo_takes_back_only_its_own_checks_failure_and_the_lock_it_set(stores):
    counter, _ = stores
    for i in range(3):  # all at the same millisecond: only the id tells them apart
        counter.record_failure("C1", at(0), POLICY, check_id=f"ver_{i}")
    assert counter.forget_failure("C1", at(0), POLICY, check_id="ver_2")
    assert counter.state("C1", at(1), POLICY) == AttemptState(2, None)
    assert not counter.forget_failure("C1", at(0), POLICY, check_id="ver_9")  # never counted: nothing goes
    assert not counter.forget_failure("C1", at(0), POLICY, check_id="ver_2")  # twice is once
    assert counter.state("C1", at(1), POLICY) == AttemptState(2, None)


def test_a_count_arriving_after_its_undo_never_happens(stores):
    counter, activity = stores
    counter.record_failure("C1", at(0), POLICY, check_id="ver_1")
    assert not counter.forget_failure("C1", at(1), POLICY, act("ver_2"), check_id="ver_2")  # not there yet
    late = act("ver_2")
    outcome = counter.record_failure("C1", at(1), POLICY, late, check_id="ver_2")  # the queued script runs
    assert not outcome.counted and outcome.failures == 1
    assert counter.state("C1", at(2), POLICY) == AttemptState(1, None)
    assert activity.record(["agent:a1"], Activity("C1", "chl_1"), at(3), WINDOW) == \
        [WindowCounts(checks=0, failures=0, customers=1)]  # ver_1 carried nothing; ver_2 was cancelled
    assert counter.record_failure("C1", at(4), POLICY, check_id="ver_3").failures == 2


def test_a_success_run_again_after_a_failure_does_not_reset_it(stores):
    counter, _ = stores
    counter.record_failure("C1", at(0), POLICY, check_id="ver_1")
    counter.record_success("C1", at(1), POLICY, check_id="ver_2")
    counter.record_failure("C1", at(2), POLICY, check_id="ver_3")
    counter.record_success("C1", at(1), POLICY, check_id="ver_2")  # a repeat of the reset
    assert counter.state("C1", at(3), POLICY) == AttemptState(1, None)


def test_a_repeat_after_redis_forgot_the_counter_still_counts_once(stores):
    counter, _ = stores
    counter.record_failure("C1", at(0), POLICY, check_id="ver_1")
    counter._client.delete(counter.redis_key("C1"))  # evicted; the ids it saw are kept apart
    assert counter.record_failure("C1", at(1), POLICY, check_id="ver_2").failures == 1
    assert counter.record_failure("C1", at(1), POLICY, check_id="ver_2").failures == 1
