"""One decision of "is this customer locked or frozen?" (domain/standing.py), used everywhere."""

from datetime import timedelta

from tests.fakes import START
from verify_service.domain.lockout import AttemptState, LockoutPolicy
from verify_service.domain.model import Customer
from verify_service.domain.standing import CustomerStatus, standing

POLICY = LockoutPolicy(threshold=5, window=timedelta(hours=24), lock_for=timedelta(hours=24))
HOUR = timedelta(hours=1)


def customer(**fields):
    return Customer(account_id="JP1001", phone="+819012345678", locale="ja", created_at=START, updated_at=START,
                    **fields)


def test_no_lock_anywhere_is_active_with_the_counter_s_failures():
    known = standing(customer(), START, POLICY, AttemptState(3, None))
    assert (known.status, known.locked_until, known.failed_attempts, known.threshold) == (
        CustomerStatus.ACTIVE, None, 3, 5)


def test_the_counter_s_lock_alone_locks_the_summary_too():
    known = standing(customer(), START, POLICY, AttemptState(5, START + HOUR))
    assert known.status is CustomerStatus.LOCKED and known.locked_until == START + HOUR and known.locked


def test_the_durable_lock_alone_locks_and_counts_as_the_threshold_reached():
    known = standing(customer(locked_until=START + HOUR), START, POLICY, AttemptState(0, None))
    assert known.status is CustomerStatus.LOCKED and known.failed_attempts == 5


def test_the_later_of_the_two_locks_wins():
    known = standing(customer(locked_until=START + HOUR), START, POLICY, AttemptState(5, START + 2 * HOUR))
    assert known.locked_until == START + 2 * HOUR


def test_locks_that_have_ended_do_not_count():
    known = standing(customer(locked_until=START), START, POLICY, AttemptState(0, START - HOUR))
    assert known.status is CustomerStatus.ACTIVE and known.locked_until is None


def test_a_freeze_outranks_a_lock_but_the_lock_is_still_shown():
    known = standing(customer(frozen_at=START, locked_until=START + HOUR), START, POLICY)
    assert known.status is CustomerStatus.FROZEN and known.frozen and known.locked_until == START + HOUR


def test_without_the_counter_only_the_row_is_known():
    assert standing(customer(), START, POLICY).status is CustomerStatus.ACTIVE
