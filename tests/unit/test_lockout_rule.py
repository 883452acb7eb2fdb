"""The lockout rule itself (CounterRecord), with a fake clock."""

from datetime import timedelta

from tests.fakes import START
from verify_service.domain.lockout import CounterRecord, LockoutPolicy, attempts_remaining, to_ms

POLICY = LockoutPolicy(threshold=5, window=timedelta(hours=24), lock_for=timedelta(hours=24))
T0 = to_ms(START)
HOUR = 3_600_000


def fail_times(record, times):
    return [record.fail(t, POLICY) for t in times]


def test_fifth_failure_locks_for_the_lock_period():
    record = CounterRecord([])
    outcomes = fail_times(record, [T0 + i for i in range(5)])
    assert [o.counted for o in outcomes] == [True] * 5
    assert [o.failures for o in outcomes] == [1, 2, 3, 4, 5]
    assert outcomes[-1].locked_now
    assert to_ms(outcomes[-1].locked_until) == T0 + 4 + 24 * HOUR


def test_failure_while_locked_is_not_counted_and_does_not_extend_the_lock():
    record = CounterRecord([])
    fail_times(record, [T0] * 5)
    later = record.fail(T0 + HOUR, POLICY)
    assert not later.counted and not later.locked_now
    assert to_ms(later.locked_until) == T0 + 24 * HOUR


def test_success_resets_the_count():
    record = CounterRecord([])
    fail_times(record, [T0] * 4)
    assert record.succeed(T0 + 1, POLICY) is None
    assert record.state(T0 + 2, POLICY).failures == 0


def test_success_while_locked_keeps_the_lock():
    record = CounterRecord([])
    fail_times(record, [T0] * 5)
    assert to_ms(record.succeed(T0 + 1, POLICY)) == T0 + 24 * HOUR
    assert record.state(T0 + 2, POLICY).locked_until is not None


def test_expired_lock_resets_the_count():
    record = CounterRecord([])
    fail_times(record, [T0] * 5)
    after = T0 + 24 * HOUR
    assert record.state(after, POLICY).failures == 0
    outcome = record.fail(after, POLICY)
    assert outcome.counted and outcome.failures == 1 and outcome.locked_until is None


def test_failures_older_than_the_window_drop_out():
    record = CounterRecord([])
    fail_times(record, [T0, T0 + 1, T0 + 2, T0 + 3])
    outcome = record.fail(T0 + 24 * HOUR + 10, POLICY)
    assert outcome.failures == 1 and outcome.locked_until is None


def test_window_slides_rather_than_resetting():
    record = CounterRecord([])
    fail_times(record, [T0, T0 + 20 * HOUR, T0 + 20 * HOUR, T0 + 20 * HOUR])
    outcome = record.fail(T0 + 25 * HOUR, POLICY)
    assert outcome.failures == 4 and outcome.locked_until is None
    assert record.fail(T0 + 25 * HOUR, POLICY).locked_now


def test_attempts_remaining_follows_the_contract():
    assert attempts_remaining("verified", 0, POLICY) == 5
    assert attempts_remaining("rejected", 2, POLICY) == 3
    assert attempts_remaining("rejected", 5, POLICY) == 0
    assert attempts_remaining("locked", 5, POLICY) == 0
    assert attempts_remaining("frozen", 0, POLICY) == 0
