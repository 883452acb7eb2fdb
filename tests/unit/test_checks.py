"""CheckService with fakes: factors, the lockout rule, records and audit events."""

from datetime import timedelta

import pytest

from tests.fakes import FakeAttemptCounter, FakeClock, FakeUnitOfWorkFactory
from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.checks import CheckRequest, CheckService, PinFactor
from verify_service.domain.customers import CustomerService
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.locks import LockService
from verify_service.domain.model import Actor
from verify_service.errors import NotFound

ACTOR = Actor("agent-key", "10.0.0.1")


class NoCodeSent:
    """The code factor when no code was ever sent: nothing can match."""

    def evaluate(self, customer, request, now):
        return "mismatch"


POLICY = LockoutPolicy(threshold=5, window=timedelta(hours=24), lock_for=timedelta(hours=24))


@pytest.fixture
def world():
    clock, uow, counter = FakeClock(), FakeUnitOfWorkFactory(), FakeAttemptCounter()
    seen = []
    vault = KeyRingVault.from_setting("t:" + "x" * 40)
    customers = CustomerService(uow=uow, vault=vault, clock=clock, default_locale="ja")
    checks = CheckService(uow=uow, counter=counter, clock=clock, policy=POLICY,
                          factors={"pin": PinFactor(vault=vault), "code": NoCodeSent()},
                          ttl=timedelta(minutes=15), on_checked=lambda verification: seen.append(verification))
    locks = LockService(uow=uow, counter=counter, clock=clock, policy=POLICY)
    customers.register_or_update("JP1001", {"phone": "+819012345678"}, ACTOR)
    pin = customers.view_pin("JP1001", ACTOR).pin

    class World:
        pass

    w = World()
    w.clock, w.uow, w.counter, w.checks, w.locks, w.customers, w.pin = (
        clock, uow, counter, checks, locks, customers, pin)
    w.wrong = "000001" if pin != "000001" else "000002"
    w.seen = seen
    return w


def check(world, pin=None, code=None):
    return world.checks.check(CheckRequest("JP1001", "phone", "agent-42", pin=pin, code=code), ACTOR)


def events(world):
    return [e.event.event for e in world.uow.store.events]


def test_right_pin_is_verified_at_level_one(world):
    result = check(world, world.pin)
    assert (result.result, result.verified, result.level) == ("verified", True, 1)
    assert result.factors == {"pin": "match", "code": "not_checked"}
    assert result.valid_until == world.clock.now() + timedelta(minutes=15)
    assert result.attempts_remaining == 5 and result.locked_until is None


def test_wrong_pin_is_rejected_with_attempts_left(world):
    result = check(world, world.wrong)
    assert (result.result, result.verified, result.level, result.attempts_remaining) == ("rejected", False, 0, 4)
    assert result.factors["pin"] == "mismatch" and result.valid_until is None


def test_fifth_wrong_pin_is_rejected_and_sets_the_lock(world):
    results = [check(world, world.wrong) for _ in range(5)]
    assert [r.attempts_remaining for r in results] == [4, 3, 2, 1, 0]
    last = results[-1]
    assert last.result == "rejected" and last.locked_until == world.clock.now() + timedelta(hours=24)
    assert world.uow.store.customers["JP1001"].locked_until == last.locked_until
    assert "customer_locked" in events(world)


def test_sixth_wrong_pin_is_locked_not_rejected(world):
    for _ in range(5):
        check(world, world.wrong)
    sixth = check(world, world.wrong)
    assert sixth.result == "locked" and sixth.factors == {"pin": "not_checked", "code": "not_checked"}
    assert sixth.attempts_remaining == 0


def test_right_pin_while_locked_is_locked_and_lock_not_extended(world):
    for _ in range(5):
        check(world, world.wrong)
    until = world.uow.store.customers["JP1001"].locked_until
    world.clock.advance(3600)
    result = check(world, world.pin)
    assert result.result == "locked" and result.locked_until == until and not result.verified


def test_lock_ends_after_the_lock_period_and_the_count_restarts(world):
    for _ in range(5):
        check(world, world.wrong)
    world.clock.advance(24 * 3600)
    assert check(world, world.wrong).attempts_remaining == 4
    assert check(world, world.pin).result == "verified"


def test_verified_check_resets_the_count(world):
    for _ in range(4):
        check(world, world.wrong)
    assert check(world, world.pin).attempts_remaining == 5
    assert check(world, world.wrong).attempts_remaining == 4


def test_any_wrong_factor_is_one_failed_attempt(world):
    result = check(world, world.pin, code="123123")
    assert result.result == "rejected" and result.factors == {"pin": "match", "code": "mismatch"}
    assert result.attempts_remaining == 4


def test_frozen_customer_answers_frozen_and_counts_nothing(world):
    world.locks.freeze("JP1001", "suspected takeover", ACTOR)
    result = check(world, world.wrong)
    assert (result.result, result.attempts_remaining) == ("frozen", 0)
    assert result.factors["pin"] == "not_checked"
    assert world.locks.status("JP1001").failed_attempts == 0


def test_unlock_lifts_the_lock_and_resets_the_count(world):
    for _ in range(5):
        check(world, world.wrong)
    status = world.locks.unlock("JP1001", "caller proved identity", ACTOR)
    assert not status.locked and status.failed_attempts == 0
    assert check(world, world.pin).result == "verified"
    assert "customer_unlocked" in events(world)


def test_every_check_is_recorded_and_audited_without_the_pin(world):
    ok, bad = check(world, world.pin), check(world, world.wrong)
    assert world.checks.get(ok.verification_id) == ok
    assert events(world)[-2:] == ["verification_succeeded", "verification_failed"]
    assert world.pin not in repr(world.uow.store.events) and world.wrong not in repr(world.uow.store.events)
    assert bad.verification_id in repr(world.uow.store.events)


def test_unknown_account_is_not_found(world):
    with pytest.raises(NotFound):
        world.checks.check(CheckRequest("NOPE", "phone", "a"), ACTOR)


def test_unknown_verification_is_not_found(world):
    with pytest.raises(NotFound):
        world.checks.get("ver_nope")


def test_verification_valid_until_ttl_passes(world):
    result = check(world, world.pin)
    assert result.valid_at(world.clock.now())
    assert not result.valid_at(world.clock.now() + timedelta(minutes=15))


def test_rotation_invalidates_the_old_pin_at_once(world):
    new = world.customers.rotate_pin("JP1001", ACTOR).pin
    assert new != world.pin
    assert check(world, world.pin).result == "rejected"
    assert check(world, new).result == "verified"


def test_unlock_landing_during_the_locking_check_is_not_undone(world):
    for _ in range(4):
        check(world, world.wrong)
    real = world.counter.record_failure

    def fail_then_unlock(key, now, policy, carry=None, check_id=None):
        outcome = real(key, now, policy, carry, check_id)
        world.locks.unlock("JP1001", "customer signed in to the portal", ACTOR)  # lands mid-check
        return outcome

    world.counter.record_failure = fail_then_unlock
    fifth = check(world, world.wrong)
    assert fifth.result == "rejected" and fifth.attempts_remaining == 0
    assert world.uow.store.customers["JP1001"].locked_until is None
    assert not world.locks.status("JP1001").locked
    assert check(world, world.pin).result == "verified"


def _failing_record_writes(monkeypatch):
    """Make every verification record write fail until the returned undo is called."""
    from tests import fakes

    original = fakes._Verifications.add
    monkeypatch.setattr(fakes._Verifications, "add", lambda self, v: (_ for _ in ()).throw(RuntimeError("db")))
    return lambda: monkeypatch.setattr(fakes._Verifications, "add", original)


def test_a_failure_whose_record_could_not_be_written_is_not_counted(world, monkeypatch):
    for _ in range(4):
        check(world, world.wrong)
    restore = _failing_record_writes(monkeypatch)
    with pytest.raises(RuntimeError):
        check(world, world.wrong)
    restore()
    assert world.locks.status("JP1001").failed_attempts == 4 and not world.locks.status("JP1001").locked
    fifth = check(world, world.wrong)
    assert fifth.result == "rejected" and fifth.locked_until is not None
    assert world.uow.store.customers["JP1001"].locked_until == fifth.locked_until


def test_a_lock_lost_to_a_failed_write_is_repaired_by_the_next_check(world, monkeypatch):
    for _ in range(4):
        check(world, world.wrong)
    restore = _failing_record_writes(monkeypatch)
    monkeypatch.setattr(world.counter, "forget_failure", lambda *a: (_ for _ in ()).throw(RuntimeError("down")))
    with pytest.raises(RuntimeError, match="db"):
        check(world, world.wrong)  # the record failed and so did the undo: the counter keeps the lock
    restore()
    assert world.uow.store.customers["JP1001"].locked_until is None  # the counter locked, the row did not
    assert check(world, world.pin).result == "locked"
    assert world.uow.store.customers["JP1001"].locked_until is not None
    assert events(world)[-1] == "customer_locked"


def test_every_answered_check_is_reported_once_to_the_observer(world):
    answered = [check(world, world.pin), check(world, world.wrong)]
    assert world.seen == answered
    with pytest.raises(NotFound):
        world.checks.check(CheckRequest("NOPE", "phone", "agent-42", pin="123456"), ACTOR)
    assert len(world.seen) == 2  # a refused check is no answered check
