"""CheckService settles counts answered 503 after a timeout: taken back (with their lock) once the counter answers."""

from datetime import timedelta

import pytest

from tests.fakes import FakeAttemptCounter, FakeClock, FakeUnitOfWorkFactory
from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.checks import CheckRequest, CheckService, PinFactor
from verify_service.domain.customers import CustomerService
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.model import Actor
from verify_service.errors import DependencyUnavailable, UncertainWrite

ACTOR = Actor("agent-key", "10.0.0.1")
POLICY = LockoutPolicy(threshold=5, window=timedelta(hours=24), lock_for=timedelta(hours=24))


class LateCounter(FakeAttemptCounter):
    """A counter whose next calls time out: `late` ones still happen (queued in Redis), `down` ones raise."""

    def __init__(self):
        super().__init__()
        self.late = self.down = 0

    def record_failure(self, key, now, policy, carry=None, check_id=None):
        if self.down:
            raise DependencyUnavailable()
        outcome = super().record_failure(key, now, policy, carry, check_id)
        if self.late:
            self.late -= 1
            raise UncertainWrite()
        return outcome

    def forget_failure(self, key, at, policy, carry=None, check_id=None):
        if self.down:
            raise DependencyUnavailable()
        return super().forget_failure(key, at, policy, carry, check_id)


@pytest.fixture
def world():
    clock, uow, counter = FakeClock(), FakeUnitOfWorkFactory(), LateCounter()
    vault = KeyRingVault.from_setting("t:" + "x" * 40)
    customers = CustomerService(uow=uow, vault=vault, clock=clock, default_locale="ja")
    customers.register_or_update("JP1001", {"phone": "+819012345678"}, ACTOR)
    pin = customers.view_pin("JP1001", ACTOR).pin

    def service():  # one per process, sharing the counter and the database
        return CheckService(uow=uow, counter=counter, clock=clock, policy=POLICY, separate_counter=True,
                            factors={"pin": PinFactor(vault=vault)}, ttl=timedelta(minutes=15))

    class World:
        pass

    w = World()
    w.clock, w.uow, w.counter, w.here, w.elsewhere, w.pin = clock, uow, counter, service(), service(), pin
    w.wrong = "000001" if pin != "000001" else "000002"
    return w


def check(service, pin):
    return service.check(CheckRequest("JP1001", "phone", "agent-42", pin=pin), ACTOR)


def failures(world):
    return world.counter.state("JP1001", world.clock.now(), POLICY).failures


def test_a_failure_that_timed_out_is_taken_back_before_the_next_check_counts(world):
    for _ in range(3):
        check(world.here, world.wrong)
    world.counter.late = 1
    with pytest.raises(UncertainWrite):
        check(world.here, world.wrong)  # answered 503, yet counted
    assert failures(world) == 4 and len(world.here.unsettled) == 1
    world.clock.advance(1)
    assert check(world.here, world.wrong).attempts_remaining == 1
    assert len(world.here.unsettled) == 0 and failures(world) == 4


def test_a_lock_another_process_copied_to_the_row_is_withdrawn_with_the_failure(world):
    for _ in range(4):
        check(world.here, world.wrong)
    world.counter.late = 1
    with pytest.raises(UncertainWrite):
        check(world.here, world.wrong)  # the 5th, answered 503: it locked the counter all the same
    world.clock.advance(1)
    assert check(world.elsewhere, world.pin).result == "locked"  # another process saw the lock and kept it
    assert world.uow.store.customers["JP1001"].locked_until is not None
    world.clock.advance(1)
    fifth = check(world.here, world.wrong)  # settles first: the lock goes with the failure that set it
    assert fifth.result == "rejected" and fifth.attempts_remaining == 0
    assert world.uow.store.customers["JP1001"].locked_until == fifth.locked_until
    withdrawn = [e.event for e in world.uow.store.events if e.event.event == "customer_unlocked"]
    assert len(withdrawn) == 1 and withdrawn[0].details["withdrawn"] is True and withdrawn[0].actor == "system"


def test_counts_wait_while_the_counter_is_away_and_settle_when_it_answers(world):
    for _ in range(3):
        check(world.here, world.wrong)
    world.counter.late = 1
    with pytest.raises(UncertainWrite):
        check(world.here, world.wrong)
    world.counter.down = 1
    with pytest.raises(DependencyUnavailable):
        check(world.here, world.wrong)
    assert len(world.here.unsettled) == 1 and failures(world) == 4
    world.counter.down = 0
    world.clock.advance(1)
    assert check(world.here, world.pin).result == "verified"
    assert len(world.here.unsettled) == 0


def test_an_undo_that_fails_after_a_failed_record_is_settled_later(world, monkeypatch):
    from tests import fakes

    for _ in range(4):
        check(world.here, world.wrong)
    original = fakes._Verifications.add
    monkeypatch.setattr(fakes._Verifications, "add", lambda self, v: (_ for _ in ()).throw(RuntimeError("db")))
    world.counter.down = 0
    real_forget = world.counter.forget_failure
    monkeypatch.setattr(world.counter, "forget_failure", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError, match="db"):
        check(world.here, world.wrong)  # counted and locked; neither the record nor the undo could be written
    monkeypatch.setattr(fakes._Verifications, "add", original)
    monkeypatch.setattr(world.counter, "forget_failure", real_forget)
    world.clock.advance(1)
    assert check(world.here, world.pin).result == "verified"


def test_a_failure_taken_back_whose_row_lock_could_not_be_withdrawn_is_withdrawn_later(world, monkeypatch):
    from tests import fakes

    for _ in range(4):
        check(world.here, world.wrong)
        world.clock.advance(1)  # (the fake counter undoes by time: each failure at its own)
    world.counter.late = 1
    with pytest.raises(UncertainWrite):
        check(world.here, world.wrong)
    world.clock.advance(1)
    assert check(world.elsewhere, world.pin).result == "locked"  # copied to the row
    original = fakes._Customers.save
    monkeypatch.setattr(fakes._Customers, "save", lambda self, c: (_ for _ in ()).throw(RuntimeError("db")))
    world.here.settle()  # the counter forgets the failure; the row's write fails
    assert failures(world) == 4 and len(world.here.unsettled) == 1
    monkeypatch.setattr(fakes._Customers, "save", original)
    world.here.settle()
    assert world.uow.store.customers["JP1001"].locked_until is None and len(world.here.unsettled) == 0
