"""CheckService with the agent watch, over fakes: its count rides on the lockout count when the counter can carry it."""

from datetime import timedelta

import pytest

from tests.fakes import FakeAgentActivity, FakeAttemptCounter, FakeClock, FakeUnitOfWorkFactory
from verify_service.adapters.crypto import KeyRingVault
from verify_service.domain.agent_watch import AgentWatch, WatchPolicy
from verify_service.domain.checks import CheckRequest, CheckService, PinFactor
from verify_service.domain.customers import CustomerService
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.locks import LockService
from verify_service.domain.model import Actor
from verify_service.errors import DependencyUnavailable

AGENT_KEY = Actor("crm", "10.0.0.1", roles=("agent",))
LOCKOUT = LockoutPolicy(threshold=3, window=timedelta(hours=24), lock_for=timedelta(hours=24))
WATCH = WatchPolicy(max_customers=30, max_failures=3, window=timedelta(minutes=10))
VAULT = KeyRingVault.from_setting("t:" + "x" * 40)


class World:
    """A check service whose counter carries (or not) the watch's acts; two customers."""

    def __init__(self, carrying: bool):
        self.clock, self.uow, self.activity = FakeClock(), FakeUnitOfWorkFactory(), FakeAgentActivity()
        self.counter = FakeAttemptCounter(watch=self.activity if carrying else None)
        self.raised: list[str] = []
        watch = AgentWatch(uow=self.uow, activity=self.activity, clock=self.clock, policy=WATCH,
                           on_raised=self.raised.append)
        self.checks = CheckService(uow=self.uow, counter=self.counter, clock=self.clock, policy=LOCKOUT,
                                   factors={"pin": PinFactor(vault=VAULT)}, ttl=timedelta(minutes=15), watch=watch)
        customers = CustomerService(uow=self.uow, vault=VAULT, clock=self.clock, default_locale="ja")
        self.pins = {}
        for account in ("C1", "C2"):
            customers.register_or_update(account, {"phone": "+819012345678"}, AGENT_KEY)
            self.pins[account] = customers.view_pin(account, AGENT_KEY).pin

    def check(self, account: str, right: bool) -> str:
        pin = self.pins[account] if right else ("000001" if self.pins[account] != "000001" else "000002")
        return self.checks.check(CheckRequest(account, "phone", "a1", pin=pin), AGENT_KEY).result

    def anomalies(self) -> list[tuple[str, str]]:
        return sorted((e.event.details["subject"], e.event.details["kind"]) for e in self.uow.store.events
                      if e.event.event == "agent_anomaly")


@pytest.mark.parametrize("carrying", [True, False])
def test_a_check_is_counted_by_the_watch_once_carried_or_not(carrying):
    world = World(carrying)
    assert world.check("C1", right=True) == "verified"
    assert world.check("C1", right=False) == "rejected"
    assert world.activity.calls == [("agent:a1", "key:crm")] * 2  # one store call a check, whoever makes it
    assert [act.failed for _, act in world.activity.acts["agent:a1"]] == [False, True]


@pytest.mark.parametrize("carrying", [True, False])
def test_carried_or_not_the_third_failure_raises_a_failures_anomaly_for_agent_and_key(carrying):
    world = World(carrying)
    assert [world.check("C1", right=False), world.check("C2", right=False)] == ["rejected", "rejected"]
    assert world.anomalies() == []
    assert world.check("C1", right=False) == "rejected"
    assert world.anomalies() == [("agent", "failures"), ("key", "failures")]
    assert world.raised == ["failures", "failures"]


def test_a_failure_whose_record_cannot_be_written_is_taken_out_of_the_lockout_and_the_watch(monkeypatch):
    world = World(carrying=True)
    world.check("C1", right=False)

    def down(*args, **kwargs):
        raise DependencyUnavailable(retry_after=2)

    monkeypatch.setattr(world.checks, "_record", down)
    for _ in range(3):  # a database outage: the agent tries again and again
        with pytest.raises(DependencyUnavailable):
            world.check("C2", right=False)
    monkeypatch.undo()
    assert world.counter.state("C2", world.clock.now(), LOCKOUT).failures == 0
    # Only the recorded check counts as a check and a failure; the lost ones stay as touches of the customer.
    acts = [act for _, act in world.activity.acts["agent:a1"]]
    assert [(act.check, act.failed) for act in acts] == [(True, True)] + [(False, False)] * 3
    assert world.check("C2", right=False) == "rejected" and world.anomalies() == []  # 2 failures, not 5


def test_a_check_on_a_locked_customer_asks_no_counter_so_the_watch_counts_it_itself():
    world = World(carrying=True)
    for _ in range(3):
        world.check("C1", right=False)
    world.activity.calls.clear()
    assert world.check("C1", right=True) == "locked"  # the row's lock answers: the counter is not asked
    assert world.activity.calls == [("agent:a1", "key:crm")]
    assert world.activity.acts["agent:a1"][-1][1].failed is False


def test_a_check_on_a_frozen_customer_asks_no_counter_so_the_watch_counts_it_itself():
    world = World(carrying=True)
    LockService(uow=world.uow, counter=world.counter, clock=world.clock, policy=LOCKOUT).freeze(
        "C1", "account under attack", Actor("security", "10.0.0.2", roles=("admin",)))
    counted = []
    original = world.counter.record_failure
    world.counter.record_failure = lambda *args, **kwargs: counted.append(args) or original(*args, **kwargs)
    assert world.check("C1", right=False) == "frozen"  # a frozen customer's check evaluates nothing
    assert counted == []
    assert world.activity.calls == [("agent:a1", "key:crm")]
    assert world.activity.acts["agent:a1"][-1][1].failed is False
