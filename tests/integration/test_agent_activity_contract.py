"""One contract for the AgentActivity port: the fake, SQL on SQLite, SQL on PostgreSQL, and Redis."""

import threading
from datetime import timedelta

import pytest

from tests.conftest import make_settings, wipe
from tests.fakes import START, FakeAgentActivity
from tests.servers import flush_redis
from verify_service.adapters.redis.agent_watch import RedisAgentActivity
from verify_service.adapters.redis.client import connect
from verify_service.adapters.sql.agent_watch import SqlAgentActivity
from verify_service.bootstrap import build_services
from verify_service.domain.agent_watch import Activity, WindowCounts
from verify_service.errors import DependencyUnavailable

WINDOW = timedelta(minutes=10)


@pytest.fixture(params=["fake", "sql_sqlite", "sql_postgres", "redis"])
def activity(request, databases):
    if request.param == "fake":
        yield FakeAgentActivity()
        return
    if request.param == "redis":
        url = databases["postgres_redis"]["redis_url"]
        flush_redis(url)
        client = connect(url, timeout=1.0)
        yield RedisAgentActivity(client)
        client.close()
        return
    mode = "sqlite" if request.param == "sql_sqlite" else "postgres"
    services = build_services(make_settings(**databases[mode]))
    wipe(services)
    yield SqlAgentActivity(services.db)
    services.close()


def at(seconds):
    return START + timedelta(seconds=seconds)


def act(account, ref, check=True, failed=False):
    return Activity(account, ref, check=check, failed=failed)


def test_checks_failures_and_distinct_customers_are_counted(activity):
    activity.record(["agent:a"], act("C1", "r1"), at(0), WINDOW)
    activity.record(["agent:a"], act("C1", "r2", failed=True), at(1), WINDOW)
    activity.record(["agent:a"], act("C2", "r3", check=False), at(2), WINDOW)
    assert activity.record(["agent:a"], act("C3", "r4", failed=True), at(3), WINDOW) == [WindowCounts(3, 2, 3)]


def test_one_call_counts_for_every_subject_in_order(activity):
    activity.record(["key:k"], act("C9", "r0"), at(0), WINDOW)
    counts = activity.record(["agent:a", "key:k"], act("C1", "r1"), at(1), WINDOW)
    assert counts == [WindowCounts(1, 0, 1), WindowCounts(2, 0, 2)]


def test_an_act_exactly_one_window_old_has_left_it(activity):
    activity.record(["agent:a"], act("C1", "r1", failed=True), at(0), WINDOW)
    assert activity.record(["agent:a"], act("C2", "r2"), at(600), WINDOW) == [WindowCounts(1, 0, 1)]


def test_an_act_a_millisecond_inside_the_window_still_counts(activity):
    activity.record(["agent:a"], act("C1", "r1", failed=True), at(0), WINDOW)
    assert activity.record(["agent:a"], act("C2", "r2"), at(599.999), WINDOW) == [WindowCounts(2, 1, 2)]


def test_a_customer_touched_again_stays_in_the_window_from_the_last_touch(activity):
    activity.record(["agent:a"], act("C1", "r1"), at(0), WINDOW)
    activity.record(["agent:a"], act("C1", "r2", check=False), at(500), WINDOW)
    assert activity.record(["agent:a"], act("C2", "r3", check=False), at(700), WINDOW) == [WindowCounts(0, 0, 2)]


def test_reset_forgets_one_subject_only(activity):
    activity.record(["agent:a", "key:k"], act("C1", "r1", failed=True), at(0), WINDOW)
    activity.reset("agent:a")
    counts = activity.record(["agent:a", "key:k"], act("C2", "r2"), at(1), WINDOW)
    assert counts == [WindowCounts(1, 0, 1), WindowCounts(2, 1, 2)]


def test_thirty_simultaneous_acts_count_exactly(activity):
    barrier, seen, lock = threading.Barrier(30), [], threading.Lock()

    def hammer(i):
        barrier.wait()
        counts = activity.record(["agent:a", "key:k"], act(f"C{i}", f"r{i}", failed=True), at(0), WINDOW)
        with lock:
            seen.append(counts[0].customers)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 31))  # every act saw a different count: none was lost or doubled


def test_redis_down_is_a_503_not_a_zero(databases):
    client = connect("redis://127.0.0.1:1/0", timeout=0.2)
    with pytest.raises(DependencyUnavailable):
        RedisAgentActivity(client).record(["agent:a"], act("C1", "r1"), at(0), WINDOW)
