"""The agent watch rule with fakes and a fake clock: window edges, once per episode, clear resets, the block."""

import itertools
from datetime import timedelta

import pytest

from tests.fakes import START, FakeAgentActivity, FakeClock, FakeUnitOfWorkFactory
from verify_service.domain.agent_watch import AgentWatch, WatchPolicy, subjects_of
from verify_service.domain.model import Actor, Verification
from verify_service.errors import Conflict, RateLimited

AGENT_KEY = Actor("crm", "10.0.0.1", roles=("agent",))
IDS = itertools.count(1)
POLICY = WatchPolicy(max_customers=3, max_failures=2, window=timedelta(minutes=10))


def world(policy=POLICY):
    clock, uow, activity = FakeClock(), FakeUnitOfWorkFactory(), FakeAgentActivity()
    raised, refused = [], []
    watch = AgentWatch(uow=uow, activity=activity, clock=clock, policy=policy, on_raised=raised.append,
                       on_refused=refused.append)
    return watch, clock, uow, activity, raised, refused


def answered(account_id, result="verified", agent_id="agent-7"):
    return Verification(verification_id=f"ver_{next(IDS)}", account_id=account_id, verified=result == "verified",
                        result=result, factors={}, level=0, attempts_remaining=5, locked_until=None,
                        checked_at=START, valid_until=None, channel="phone", agent_id=agent_id, ticket_ref=None,
                        actor="crm")


def events(uow, name="agent_anomaly"):
    return [e.event for e in uow.store.events if e.event.event == name]


def test_agent_keys_are_watched_per_agent_and_per_key():
    assert [s.key for s in subjects_of("a1", AGENT_KEY)] == ["agent:a1", "key:crm"]


def test_console_users_are_watched_by_name_not_under_the_shared_console_key():
    assert [s.key for s in subjects_of("alice", Actor("console", agent_id="alice"))] == ["agent:alice"]


def test_portal_and_admin_keys_are_not_watched():
    assert subjects_of(None, Actor("portal", roles=("portal",))) == []
    assert subjects_of("x", Actor("boss", roles=("admin",))) == []


def test_the_fourth_distinct_customer_raises_one_anomaly_per_subject():
    watch, _, uow, _, raised, _ = world()
    for account in ("C1", "C2", "C3", "C1"):
        watch.checked(answered(account), AGENT_KEY)
    assert raised == []
    watch.checked(answered("C4"), AGENT_KEY)
    assert raised == ["distinct_customers", "distinct_customers"]
    anomalies = watch.anomalies(open_only=True)
    assert {(a.subject, a.subject_id, a.count, a.threshold) for a in anomalies} == {
        ("agent", "agent-7", 4, 3), ("key", "crm", 4, 3)}
    detail = events(uow)[0].details
    assert detail["kind"] == "distinct_customers" and detail["window_seconds"] == 600


def test_an_episode_raises_once_however_many_checks_follow():
    watch, _, uow, _, raised, _ = world()
    for i in range(10):
        watch.checked(answered(f"C{i}", "rejected"), AGENT_KEY)
    assert sorted(raised) == ["distinct_customers"] * 2 + ["failures"] * 2
    assert len(events(uow)) == 4


def test_the_second_failure_raises_failures():
    watch, _, _, _, raised, _ = world()
    watch.checked(answered("C1", "rejected"), AGENT_KEY)
    assert raised == []
    watch.checked(answered("C1", "rejected"), AGENT_KEY)
    assert raised == ["failures", "failures"]


def test_acts_that_left_the_window_no_longer_count():
    watch, clock, _, _, raised, _ = world()
    for account in ("C1", "C2", "C3"):
        watch.checked(answered(account), AGENT_KEY)
    clock.advance(600)  # the first three are exactly one window old: out
    watch.checked(answered("C4"), AGENT_KEY)
    assert raised == []


def test_acts_just_inside_the_window_still_count():
    watch, clock, _, _, raised, _ = world()
    for account in ("C1", "C2", "C3"):
        watch.checked(answered(account), AGENT_KEY)
    clock.advance(599.999)
    watch.checked(answered("C4"), AGENT_KEY)
    assert len(raised) == 2


def test_clearing_resets_the_subject_so_it_is_not_raised_again_at_once():
    watch, clock, uow, _, raised, _ = world()
    for account in ("C1", "C2", "C3", "C4"):
        watch.checked(answered(account, agent_id="a1"), Actor("console", agent_id="a1"))
    [anomaly] = watch.anomalies(open_only=True)
    cleared = watch.clear(anomaly.anomaly_id, "talked to them", Actor("console", agent_id="sam"))
    assert cleared.cleared_by == "sam" and cleared.clear_reason == "talked to them" and not cleared.open
    watch.checked(answered("C5", agent_id="a1"), Actor("console", agent_id="a1"))
    assert raised == ["distinct_customers"] and watch.anomalies(open_only=True) == []
    assert events(uow, "agent_anomaly_cleared")[0].details["reason"] == "talked to them"


def test_a_cleared_anomaly_cannot_be_cleared_twice():
    watch, _, _, _, _, _ = world()
    for account in ("C1", "C2", "C3", "C4"):
        watch.checked(answered(account), AGENT_KEY)
    anomaly = watch.anomalies(open_only=True)[0]
    watch.clear(anomaly.anomaly_id, "ok", AGENT_KEY)
    with pytest.raises(Conflict):
        watch.clear(anomaly.anomaly_id, "again", AGENT_KEY)


def test_without_block_an_open_anomaly_refuses_nothing():
    watch, _, _, _, _, refused = world()
    for account in ("C1", "C2", "C3", "C4"):
        watch.checked(answered(account), AGENT_KEY)
    watch.guard("agent-7", AGENT_KEY)
    assert refused == []


def test_with_block_the_agent_is_refused_on_any_key_until_cleared():
    watch, _, _, _, _, refused = world(WatchPolicy(max_customers=3, max_failures=2, block=True))
    for account in ("C1", "C2", "C3", "C4"):
        watch.checked(answered(account), AGENT_KEY)
    with pytest.raises(RateLimited) as refusal:
        watch.guard("agent-7", Actor("other-key", roles=("agent",)))
    assert refusal.value.details["reason"] == "agent_blocked" and refusal.value.retry_after == 600
    assert refused == ["check"]
    for anomaly in watch.anomalies(open_only=True):
        watch.clear(anomaly.anomaly_id, "reviewed", Actor("boss"))
    watch.guard("agent-7", AGENT_KEY)


def test_one_store_call_per_act():
    watch, _, _, activity, _, _ = world()
    watch.checked(answered("C1"), AGENT_KEY)
    assert activity.calls == [("agent:agent-7", "key:crm")]



def test_acts_past_a_threshold_ask_the_store_about_the_open_episode_once_in_a_while(monkeypatch):
    from tests import fakes

    watch, clock, _, _, raised, _ = world()
    asked = []
    original = fakes._Anomalies.open_for
    monkeypatch.setattr(fakes._Anomalies, "open_for", lambda self, *a, **k: asked.append(a) or original(self, *a, **k))
    for n in range(40):  # one agent over the limit for 36 checks: a load test, or an insider at work
        watch.checked(answered(f"C{n}"), AGENT_KEY)
    assert len(raised) == 2 and len(asked) == 2  # one look per subject when raising, none per later check
    clock.advance(11)
    watch.checked(answered("C99"), AGENT_KEY)
    assert len(raised) == 2 and len(asked) == 4  # looked again after KNOWN_OPEN_FOR: still the same episode
