"""The lockout rule itself (CounterRecord), with a fake clock."""

import copy
from datetime import UTC, datetime, timedelta

from tests.fakes import START
from verify_service.domain.lockout import (
    CounterRecord,
    LockoutPolicy,
    attempts_remaining,
    counter_from_checks,
    from_ms,
    to_ms,
)

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


def replay(events, policy=POLICY):
    """Run (ms, "fail"|"ok") events through the rule; return it and the check records they leave, newest first."""
    record, checks = CounterRecord([]), []
    for at_ms, kind in events:
        if kind == "fail":
            outcome = record.fail(at_ms, policy)
            if outcome.counted:
                checks.append((from_ms(at_ms), "rejected", outcome.locked_until if outcome.locked_now else None))
        elif record.succeed(at_ms, policy) is None:
            checks.append((from_ms(at_ms), "verified", None))
    return record, checks[::-1]


def test_state_changes_nothing():
    running = CounterRecord([T0, T0 + HOUR, T0 + 2 * HOUR], T0 + 26 * HOUR)
    for record in (running, CounterRecord([T0, T0 + HOUR]), CounterRecord([T0], T0 + HOUR), CounterRecord([])):
        before = copy.deepcopy(record)
        answers = [record.state(T0 + hours * HOUR, POLICY) for hours in (0, 3, 25, 30, 50, 0, 3)]
        assert record == before
        assert answers[:2] == answers[-2:]  # asking later first changes no earlier answer
    assert running.state(T0 + 25 * HOUR, POLICY).failures == 3  # a running lock keeps its failures
    assert running.state(T0 + 26 * HOUR, POLICY).failures == 0  # its end resets the count


def test_rebuild_during_a_lock_keeps_the_five_failures_that_set_it():
    """Issue 9's case: failures at 0, 20, 21, 22, 23 h, asked at 25 h: the rule says 5, and so must a rebuild."""
    record, checks = replay([(T0 + hours * HOUR, "fail") for hours in (0, 20, 21, 22, 23)])
    now = T0 + 25 * HOUR
    rebuilt = counter_from_checks(checks, from_ms(now), POLICY)
    assert rebuilt == record and rebuilt.state(now, POLICY) == record.state(now, POLICY)
    assert rebuilt.state(now, POLICY).failures == 5 and to_ms(rebuilt.state(now, POLICY).locked_until) == T0 + 47 * HOUR


def test_rebuild_during_a_lock_stops_at_the_last_reset():
    record, checks = replay([(T0, "fail"), (T0 + 1, "ok")] + [(T0 + HOUR + i, "fail") for i in range(5)])
    assert counter_from_checks(checks, from_ms(T0 + 2 * HOUR), POLICY) == record
    assert len(record.failures) == 5


def test_rebuild_counts_a_failure_at_the_instant_a_lock_ends():
    """The lock runs while now < its end: a check at the end itself is after the lock, and counts."""
    lock_end = T0 + 4 + 24 * HOUR
    record, checks = replay([(T0 + i, "fail") for i in range(5)] + [(lock_end, "fail")])
    now = lock_end + HOUR
    assert record.state(now, POLICY).failures == 1
    assert counter_from_checks(checks, from_ms(now), POLICY).state(now, POLICY) == record.state(now, POLICY)


def test_milliseconds_round_trip_exactly_in_2038():
    """Float seconds lost a millisecond in some years (2004, 2038-39): a lock's end read back from a record moved."""
    for value in (2_165_821_153_719, 2_187_066_668_022, 1_073_744_100_646, T0):
        assert to_ms(from_ms(value)) == value
    assert to_ms(datetime(2038, 4, 10, 4, 16, 38, 163000, tzinfo=UTC)) == 2_154_485_798_163


def test_a_lock_ending_in_2038_is_rebuilt_to_the_millisecond():
    start = to_ms(datetime(2038, 4, 23, 4, 49, 6, 584000, tzinfo=UTC))  # its lock ends at a millisecond floats lost
    record, checks = replay([(start + i, "fail") for i in range(5)])
    rebuilt = counter_from_checks(checks, from_ms(start + 24 * HOUR), POLICY)
    assert rebuilt.locked_until_ms == record.locked_until_ms == start + 4 + 24 * HOUR
    assert rebuilt.locked(start + 4 + 24 * HOUR - 1)
