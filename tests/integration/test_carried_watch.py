"""A check's agent-watch act carried on its lockout count: the fake, Redis and SQL (where one store holds both).

The carried act must count exactly as the watch's own call would (`AgentActivity.record`, whose contract is
test_agent_activity_contract.py), and must leave every lockout answer as it is without it.
"""

import threading
from datetime import timedelta

import pytest

from tests.conftest import make_settings, wipe
from tests.fakes import START, FakeAgentActivity, FakeAttemptCounter
from tests.servers import flush_redis
from verify_service.adapters.redis.agent_watch import RedisAgentActivity
from verify_service.adapters.redis.client import connect
from verify_service.adapters.redis.counters import RedisAttemptCounter
from verify_service.adapters.sql.agent_watch import SqlAgentActivity
from verify_service.adapters.sql.counters import SqlAttemptCounter
from verify_service.bootstrap import build_services
from verify_service.domain.agent_watch import Activity, CarriedAct, Subject, WindowCounts
from verify_service.domain.lockout import CounterRecord, LockoutPolicy, to_ms
from verify_service.errors import DependencyUnavailable

POLICY = LockoutPolicy(threshold=3, window=timedelta(hours=24), lock_for=timedelta(hours=24))
WINDOW = timedelta(minutes=10)
SUBJECTS = ("agent:a1", "key:desk")


class History:
    """A FailureHistory that knows one earlier failure of every customer (what the check records would say)."""

    def __init__(self):
        self.asked = 0

    def rebuild(self, key, now, policy):
        self.asked += 1
        return CounterRecord([to_ms(START - timedelta(minutes=1))])


@pytest.fixture
def redis_stores(databases):
    """(carrying counter, plain counter, the watch's window, history) on one Redis."""
    url = databases["postgres_redis"]["redis_url"]
    flush_redis(url)
    client = connect(url, timeout=1.0)
    activity, history = RedisAgentActivity(client), History()
    yield (RedisAttemptCounter(client, watch=activity, history=history),
           RedisAttemptCounter(client, prefix="plain:", history=history), activity, history)
    client.close()


@pytest.fixture(params=["fake", "redis", "sqlite", "postgres"])
def stores(request, databases):
    """The same on the fake, on Redis, and in SQL (single-instance mode: the act rides in the counter's write
    transaction)."""
    if request.param == "fake":
        activity = FakeAgentActivity()
        yield FakeAttemptCounter(watch=activity), FakeAttemptCounter(), activity, History()
    elif request.param == "redis":
        yield request.getfixturevalue("redis_stores")
    else:
        services = build_services(make_settings(**databases[request.param]))
        wipe(services)
        activity = SqlAgentActivity(services.db)
        yield SqlAttemptCounter(services.db, watch=activity), SqlAttemptCounter(services.db), activity, History()
        services.close()


def at(seconds):
    return START + timedelta(seconds=seconds)


def act(account, ref):
    return CarriedAct((Subject("agent", "a1"), Subject("key", "desk")), account, ref, WINDOW)


def test_a_carried_check_counts_a_failure_only_when_the_lockout_counted_one(stores):
    carrying, _, _, _ = stores
    counts = []
    for i, op in enumerate(["fail", "ok", "fail", "fail", "fail", "fail", "ok"]):
        carried = act("C1", f"ver_{i}")
        if op == "fail":
            carrying.record_failure("C1", at(i), POLICY, carried)
        else:
            carrying.record_success("C1", at(i), POLICY, carried)
        assert carried.counts is not None and len(carried.counts) == 2
        assert carried.counts[0] == carried.counts[1]  # the agent and the key, the same act
        counts.append(carried.counts[0])
    # fail, ok, fail, fail, fail (the third: locks), fail while locked (not a counted failure), ok while locked
    assert [c.failures for c in counts] == [1, 1, 2, 3, 4, 4, 4]
    assert [c.checks for c in counts] == [1, 2, 3, 4, 5, 6, 7]
    assert {c.customers for c in counts} == {1}


def test_carrying_changes_no_lockout_answer(stores):
    carrying, plain, _, _ = stores
    for i, op in enumerate(["fail", "fail", "ok", "fail", "fail", "fail", "fail", "ok"]):
        if op == "fail":
            assert carrying.record_failure("C1", at(i), POLICY, act("C1", f"ver_{i}")) == \
                plain.record_failure("P1", at(i), POLICY)
        else:
            assert carrying.record_success("C1", at(i), POLICY, act("C1", f"ver_{i}")) == \
                plain.record_success("P1", at(i), POLICY)
    assert carrying.state("C1", at(9), POLICY) == plain.state("P1", at(9), POLICY)


def test_carried_acts_and_the_watchs_own_share_one_window(stores):
    carrying, _, activity, _ = stores
    carrying.record_failure("C1", at(0), POLICY, act("C1", "ver_1"))
    own = activity.record(list(SUBJECTS), Activity("C2", "chl_1"), at(1), WINDOW)  # a code send to another customer
    assert own == [WindowCounts(checks=1, failures=1, customers=2)] * 2
    later = act("C3", "ver_2")
    carrying.record_success("C3", at(WINDOW.total_seconds() + 0.5), POLICY, later)  # the first act has aged out
    assert later.counts == [WindowCounts(checks=1, failures=0, customers=2)] * 2


def test_a_forgotten_counter_is_rebuilt_and_the_act_still_counts_once(redis_stores):
    carrying, _, _, history = redis_stores  # only Redis forgets a counter (restart, flush, eviction)
    carried = act("C1", "ver_1")
    outcome = carrying.record_failure("C1", at(0), POLICY, carried)
    assert history.asked == 1 and outcome.failures == 2  # the rebuilt failure and this one
    assert carried.counts == [WindowCounts(checks=1, failures=1, customers=1)] * 2


def test_without_a_carried_act_the_counter_touches_no_watch_key(stores):
    carrying, _, activity, _ = stores
    carrying.record_failure("C1", at(0), POLICY)
    assert activity.record(list(SUBJECTS), Activity("C1", "chl_1"), at(1), WINDOW) == \
        [WindowCounts(checks=0, failures=0, customers=1)] * 2


def test_forgetting_a_carried_failure_takes_it_out_of_the_watchs_window_too(stores):
    carrying, _, activity, _ = stores
    kept, lost = act("C1", "ver_1"), act("C1", "ver_2")
    carrying.record_failure("C1", at(0), POLICY, kept)
    before = carrying.state("C1", at(0), POLICY)  # (Redis rebuilt one earlier failure from the history)
    carrying.record_failure("C1", at(1), POLICY, lost)
    assert lost.counts == [WindowCounts(checks=2, failures=2, customers=1)] * 2
    assert carrying.forget_failure("C1", at(1), POLICY, lost)  # its check could not be recorded
    assert carrying.state("C1", at(0), POLICY) == before
    assert activity.record(list(SUBJECTS), Activity("C1", "chl_1"), at(2), WINDOW) == \
        [WindowCounts(checks=1, failures=1, customers=1)] * 2


def test_a_watch_key_of_another_kind_fails_the_carried_check_with_nothing_changed(redis_stores):
    # Redis keeps what a script wrote before an error: the script checks its keys first, so neither the lockout
    # count nor the other subjects' windows move (the caller gets a 503 and may try again).
    carrying, _, activity, _ = redis_stores
    carrying.record_failure("C1", at(0), POLICY, act("C1", "ver_1"))
    before = carrying.state("C1", at(0), POLICY)
    activity.client.set(activity.keys("key:desk")[2], "not a sorted set")  # an outside writer's value
    with pytest.raises(DependencyUnavailable):
        carrying.record_failure("C1", at(1), POLICY, act("C1", "ver_2"))
    assert carrying.state("C1", at(1), POLICY) == before
    assert activity.client.zrange(activity.keys("agent:a1")[1], 0, -1) == [b"ver_1"]
    with pytest.raises(DependencyUnavailable):  # the watch's own call (a code send) changes nothing either
        activity.record(list(SUBJECTS), Activity("C2", "chl_1"), at(2), WINDOW)
    assert activity.client.zrange(activity.keys("agent:a1")[0], 0, -1) == [b"C1"]
    activity.client.delete(activity.keys("key:desk")[2])
    assert carrying.record_failure("C1", at(3), POLICY, act("C1", "ver_3")).failures == before.failures + 1


def test_a_forgotten_check_leaves_its_customer_touched_in_every_store(stores):
    # Undo takes the check and its failure out; the customer the agent touched stays touched (Redis keeps it in
    # the customers set, which may hold other acts on the same customer), in every store alike.
    carrying, _, activity, _ = stores
    lost = act("C9", "ver_9")
    carrying.record_failure("C9", at(0), POLICY, lost)
    assert carrying.forget_failure("C9", at(0), POLICY, lost)
    assert activity.record(list(SUBJECTS), Activity("C2", "chl_1"), at(1), WINDOW) == \
        [WindowCounts(checks=0, failures=0, customers=2)] * 2


def test_thirty_simultaneous_carried_checks_count_exactly(stores):
    # Thirty checks at once, each on its own customer and failing: every lockout count and every window count is
    # exact, each act seeing its own place in the window (1..30), in every store.
    carrying, _, _, _ = stores
    acts = [act(f"C{i:02d}", f"ver_{i}") for i in range(30)]
    start = threading.Barrier(30)
    outcomes = [None] * 30

    def check(i):
        start.wait()
        outcomes[i] = carrying.record_failure(f"C{i:02d}", at(0), POLICY, acts[i])

    threads = [threading.Thread(target=check, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(outcome is not None and outcome.counted for outcome in outcomes)
    assert sorted(carried.counts[0].failures for carried in acts) == list(range(1, 31))
    assert all(carried.counts[0] == carried.counts[1] for carried in acts)
    assert max(carried.counts[0].customers for carried in acts) == 30
