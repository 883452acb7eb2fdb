"""The lockout rule holds through faults: Redis forgetting counts, a record that cannot be written, an unlock race."""

import threading
from datetime import timedelta

import psycopg
import pytest
import redis

from tests.servers import RedisServer, flush_redis
from verify_service.bootstrap import policy_from
from verify_service.domain.model import Actor

REASON = {"reason": "caller proved identity on a video call"}


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def results(harness, pin, count):
    return [harness.check(pin=pin).get_json() for _ in range(count)]


@pytest.fixture
def own_redis():
    """A Redis of this test's own, so restarting it harms nobody else."""
    server = RedisServer().start()
    yield server
    server.stop()


def test_failures_survive_a_redis_restart_and_the_fifth_still_locks(make_harness, own_redis):
    harness = make_harness("postgres_redis", redis_url=own_redis.url)
    pin = harness.register()
    assert [r["result"] for r in results(harness, wrong(pin), 3)] == ["rejected"] * 3
    own_redis.stop()
    own_redis.start()  # empty: it keeps nothing on disk
    fourth, fifth = results(harness, wrong(pin), 2)
    assert fourth["result"] == "rejected" and fourth["attempts_remaining"] == 1 and fourth["locked_until"] is None
    assert fifth["result"] == "rejected" and fifth["attempts_remaining"] == 0 and fifth["locked_until"]
    assert harness.check(pin=pin).get_json()["result"] == "locked"


@pytest.mark.parametrize("forget", ["flushdb", "evict"])
def test_failures_survive_flushdb_and_eviction(make_harness, forget):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    results(harness, wrong(pin), 3)
    client = redis.Redis.from_url(harness.services.settings.redis_url)
    flush_redis(client) if forget == "flushdb" else client.delete("verify:attempts:JP1001")
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert lock["failed_attempts"] == 3 and not lock["locked"]
    assert [r["result"] for r in results(harness, wrong(pin), 2)] == ["rejected", "rejected"]
    assert harness.check(pin=pin).get_json()["result"] == "locked"


def test_a_forgotten_count_restarts_after_a_success_an_unlock_or_the_end_of_a_lock(make_harness):
    harness = make_harness("postgres_redis")
    client = redis.Redis.from_url(harness.services.settings.redis_url)
    pin = harness.register()
    results(harness, wrong(pin), 3)
    assert harness.check(pin=pin).get_json()["result"] == "verified"
    flush_redis(client)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4  # the success reset the count
    results(harness, wrong(pin), 4)  # now locked
    harness.call("DELETE", "/v1/customers/JP1001/lock", "admin", REASON)
    flush_redis(client)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4  # the unlock reset it
    results(harness, wrong(pin), 4)
    harness.clock.advance(timedelta(hours=24, seconds=1).total_seconds())
    flush_redis(client)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4  # the lock's end reset it


def test_failures_older_than_the_window_are_not_rebuilt(make_harness):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    results(harness, wrong(pin), 4)
    harness.clock.advance(timedelta(hours=24, seconds=1).total_seconds())
    flush_redis(harness.services.settings.redis_url)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4


@pytest.mark.parametrize("mode", ["postgres_redis", "postgres"])
def test_a_check_that_cannot_be_recorded_answers_503_and_counts_nothing(make_harness, mode):
    harness = make_harness(mode, db_timeout_seconds=1.0)
    pin = harness.register()
    results(harness, wrong(pin), 4)
    url = harness.services.settings.database_url
    with psycopg.connect(url) as holder:  # another session holds the customer's audit head
        holder.execute("SELECT 1 FROM audit_heads WHERE chain = 'JP1001' FOR UPDATE")
        blocked = harness.check(pin=wrong(pin))
        assert blocked.status_code == 503 and int(blocked.headers["Retry-After"]) >= 1
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert lock == {"locked": False, "locked_until": None, "failed_attempts": 4, "threshold": 5}
    with psycopg.connect(url) as conn:
        counted = conn.execute("SELECT count(*) FROM verifications WHERE result = 'rejected'").fetchone()
    assert counted == (4,)
    fifth = harness.check(pin=wrong(pin)).get_json()
    assert fifth["result"] == "rejected" and fifth["locked_until"]


@pytest.mark.parametrize("mode", ["sqlite", "postgres_redis"])
def test_an_unlock_racing_the_locking_check_leaves_the_customer_unlocked(make_harness, mode):
    """The unlock began before the 5th check but cleared the counter after that check counted."""
    harness = make_harness(mode)
    pin = harness.register()
    results(harness, wrong(pin), 4)
    counter, clock = harness.services.counter, harness.clock
    real_fail, real_clear = counter.record_failure, counter.clear

    def clear_later(key):
        real_clear(key)
        clock.advance(1.0)  # the unlock goes on after clearing, a moment later

    def fail_then_unlock(key, now, policy, carry=None, check_id=None):
        outcome = real_fail(key, now, policy, carry, check_id)
        if outcome.locked_now:
            clock.advance(-0.5)  # the unlock had started (read its clock) before this check
            counter.clear = clear_later
            unlocked = harness.services.locks.unlock("JP1001", REASON["reason"], Actor(key_name="supervisor"))
            assert not unlocked.locked
        return outcome

    counter.record_failure = fail_then_unlock
    fifth = harness.check(pin=wrong(pin)).get_json()
    counter.record_failure, counter.clear = real_fail, real_clear
    assert fifth["result"] == "rejected"
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert not lock["locked"]
    assert harness.check(pin=pin).get_json()["result"] == "verified"


def test_simultaneous_wrong_checks_after_redis_forgot_still_lock_at_exactly_five(make_harness):
    harness = make_harness("postgres_redis")
    pin = harness.register()
    results(harness, wrong(pin), 2)
    flush_redis(harness.services.settings.redis_url)
    barrier, answers, lock = threading.Barrier(12), [], threading.Lock()

    def hammer():
        barrier.wait()
        answer = harness.check(pin=wrong(pin)).get_json()["result"]
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=hammer) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count("rejected") == 3 and answers.count("locked") == 9


def counter_state(harness):
    return harness.services.counter.state("JP1001", harness.clock.now(), policy_from(harness.services.settings))


def test_a_lock_rebuilt_after_redis_forgot_it_counts_the_failures_that_set_it(make_harness):
    """Issue 9's case: failures at 0, 20, 21, 22, 23 h, asked at 25 h, is 5 failures as the rule counts them."""
    harness = make_harness("postgres_redis")
    pin = harness.register()
    for hours in (0, 20, 1, 1, 1):
        harness.clock.advance(hours * 3600)
        fifth = harness.check(pin=wrong(pin)).get_json()
    assert fifth["result"] == "rejected" and fifth["locked_until"]
    harness.clock.advance(2 * 3600)
    known = counter_state(harness)
    flush_redis(harness.services.settings.redis_url)
    assert counter_state(harness) == known and known.failures == 5


def test_a_right_pin_after_redis_forgot_a_running_lock_answers_locked(make_harness):
    """The customer row's lock answers first, so a counter Redis forgot is never reset by a success."""
    harness = make_harness("postgres_redis")
    pin = harness.register()
    locked_until = results(harness, wrong(pin), 5)[-1]["locked_until"]
    flush_redis(harness.services.settings.redis_url)
    answer = harness.check(pin=pin).get_json()
    assert answer["result"] == "locked" and answer["locked_until"] == locked_until
    assert counter_state(harness).failures == 5


@pytest.mark.parametrize("window_hours", [24, 48])
def test_a_failure_at_the_instant_a_lock_ends_still_counts_after_redis_forgot_it(make_harness, window_hours):
    """The lock runs while now < its end: the check at the end itself counts, in Redis and in a rebuild."""
    harness = make_harness("postgres_redis", failure_window_seconds=window_hours * 3600)
    pin = harness.register()
    results(harness, wrong(pin), 5)  # the fake clock stands still: the lock ends 24 h from now exactly
    harness.clock.advance(24 * 3600)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 4
    flush_redis(harness.services.settings.redis_url)
    assert harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] == 3
