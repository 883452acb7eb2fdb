"""The answer matches the store: a check answered 503 counts nothing and leaves no record (issue 17, item 9).

A real Redis of the test's own, stalled by one slow script (longer than the app's Redis timeout, and between one
and two timeouts) or stopped. The check sent into the stall is answered 503 while its script waits in Redis and
runs once the stall ends; the service takes that count back before it counts the next check.
"""

import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
import redis

from verify_service.bootstrap import policy_from

TIMEOUT = 0.5  # the app's Redis timeout here (settings.redis_timeout_seconds)
# Busy in Redis for ARGV[1] ms: every other client waits (its commands queue up and run when this returns).
STALL = """
local s = redis.call('TIME')
local start = s[1] * 1000000 + s[2]
while true do
  local t = redis.call('TIME')
  if t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1]) * 1000 then return 1 end
end
"""


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


@pytest.fixture
def harness(make_harness, own_redis):
    return make_harness("postgres_redis", redis_url=own_redis.url, redis_timeout_seconds=TIMEOUT)


def busy(url):
    """True while Redis answers no PING within 50 ms (a script holds it)."""
    probe = redis.Redis.from_url(url, socket_timeout=0.05, socket_connect_timeout=1)
    try:
        probe.ping()
        return False
    except redis.TimeoutError:
        return True
    finally:
        probe.close()


@contextmanager
def stalled(server, seconds):
    """Redis runs one slow script for `seconds` while the block runs; on leaving, it is free and drained."""
    client = redis.Redis.from_url(server.url)
    thread = threading.Thread(target=client.eval, args=(STALL, 0, int(seconds * 1000)))
    thread.start()
    deadline = time.monotonic() + 5
    while not busy(server.url):
        assert time.monotonic() < deadline, "the stall did not start"
    try:
        yield
    finally:
        thread.join()
        client.ping()  # sent after the stall: whatever was queued behind it has run
        client.close()


def stored(harness):
    """(rejected, all) verification records of the customer."""
    with psycopg.connect(harness.services.settings.database_url) as conn:
        rows = conn.execute("SELECT result FROM verifications WHERE account_id = 'JP1001'").fetchall()
    return sum(1 for (result,) in rows if result == "rejected"), len(rows)


@pytest.mark.parametrize("stall", [3 * TIMEOUT, 1.8 * TIMEOUT], ids=["longer_than_two_timeouts",
                                                                     "between_one_and_two_timeouts"])
def test_a_wrong_pin_answered_503_in_a_redis_stall_counts_nothing_and_five_failures_lock(harness, own_redis,
                                                                                          stall):
    pin = harness.register()
    first = [harness.check(pin=wrong(pin)).get_json()["attempts_remaining"] for _ in range(3)]
    assert first == [4, 3, 2]
    with stalled(own_redis, stall):
        answer = harness.check(pin=wrong(pin))  # its script waits in Redis, and runs when the stall ends
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    assert stored(harness) == (3, 3)  # no record for the 503
    fourth, fifth = (harness.check(pin=wrong(pin)).get_json() for _ in range(2))
    assert fourth["result"] == "rejected" and fourth["attempts_remaining"] == 1 and fourth["locked_until"] is None
    assert fifth["result"] == "rejected" and fifth["attempts_remaining"] == 0 and fifth["locked_until"]
    assert harness.check(pin=pin).get_json()["result"] == "locked"
    assert stored(harness) == (5, 6)
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert lock["locked"] and lock["failed_attempts"] == 5


def test_a_stall_that_ends_the_fifth_failure_does_not_leave_its_lock_behind(harness, own_redis):
    """The 503'd check's script reaches the threshold after the stall: its lock goes with its failure."""
    pin = harness.register()
    for _ in range(4):
        harness.check(pin=wrong(pin))
    with stalled(own_redis, 3 * TIMEOUT):
        assert harness.check(pin=wrong(pin)).status_code == 503
    assert harness.check(pin=pin).get_json()["result"] == "verified"
    assert stored(harness) == (4, 5)
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()
    assert lock == {"locked": False, "locked_until": None, "failed_attempts": 0, "threshold": 5}


def test_with_redis_stopped_no_check_answered_503_is_stored_and_five_failures_lock(harness, own_redis):
    pin = harness.register()
    harness.register("JP2002", phone="+819012345679")
    for _ in range(5):
        harness.check("JP2002", pin=wrong(pin))  # JP2002 is locked (on its row too)
    for _ in range(3):
        harness.check(pin=wrong(pin))
    before = stored(harness)
    own_redis.stop()
    try:
        assert harness.check(pin=wrong(pin)).status_code == 503
        assert stored(harness) == before
        locked = harness.check("JP2002", pin=wrong(pin))  # the row's lock answers; the watch's count is missed
    finally:
        own_redis.start()
    assert locked.status_code == 200 and locked.get_json()["result"] == "locked"
    fourth, fifth = (harness.check(pin=wrong(pin)).get_json() for _ in range(2))
    assert fourth["attempts_remaining"] == 1 and fifth["attempts_remaining"] == 0 and fifth["locked_until"]
    assert stored(harness) == (5, 5)


def test_a_recorded_check_the_agent_watch_misses_is_counted_in_a_metric(harness, own_redis):
    def missed():
        text = harness.client.get("/metrics").get_data(as_text=True)
        return float(next(line for line in text.splitlines()
                          if line.startswith("verify_agent_watch_missed_total")).split()[-1])

    pin = harness.register()
    for _ in range(5):
        harness.check(pin=wrong(pin))
    before = missed()
    own_redis.stop()
    try:
        assert harness.check(pin=pin).get_json()["result"] == "locked"
    finally:
        own_redis.start()
    assert missed() == before + 1


def test_a_count_answered_503_is_taken_back_in_the_background_without_another_check(make_harness, own_redis):
    harness = make_harness("postgres_redis", redis_url=own_redis.url, redis_timeout_seconds=TIMEOUT,
                           outbox_inprocess=True)  # the process's worker thread settles it within a turn
    pin = harness.register()
    for _ in range(4):
        harness.check(pin=wrong(pin))
    with stalled(own_redis, 3 * TIMEOUT):
        assert harness.check(pin=wrong(pin)).status_code == 503
    services = harness.services
    deadline = time.monotonic() + 10
    while len(services.checks.unsettled):
        assert time.monotonic() < deadline, "not settled in the background"
        time.sleep(0.05)
    state = services.counter.state("JP1001", harness.clock.now(), policy_from(services.settings))
    assert state.failures == 4 and state.locked_until is None


def test_a_lock_another_instance_copied_to_the_row_is_withdrawn_with_the_503d_failure(make_harness, own_redis):
    """Instance A's 5th failure was answered 503 but ran after the stall; instance B saw its lock and kept it on
    the customer row. A takes the failure back, and the row's lock with it (audited); 5 stored failures lock."""
    here = make_harness("postgres_redis", redis_url=own_redis.url, redis_timeout_seconds=TIMEOUT)
    elsewhere = make_harness("postgres_redis", clean=False, redis_url=own_redis.url, redis_timeout_seconds=TIMEOUT)
    pin = here.register()
    for _ in range(4):
        here.check(pin=wrong(pin))
    with stalled(own_redis, 3 * TIMEOUT):
        assert here.check(pin=wrong(pin)).status_code == 503
    assert elsewhere.check(pin=pin).get_json()["result"] == "locked"  # B copies the counter's lock to the row
    assert elsewhere.call("GET", "/v1/customers/JP1001/lock", "agent").get_json()["locked"]
    fifth = here.check(pin=wrong(pin)).get_json()  # A settles first: failure and lock go
    assert fifth["result"] == "rejected" and fifth["attempts_remaining"] == 0 and fifth["locked_until"]
    assert stored(here) == (5, 6)
    with psycopg.connect(here.services.settings.database_url) as conn:
        withdrawn = conn.execute("SELECT actor, details FROM audit_events WHERE event = 'customer_unlocked'"
                                 " AND account_id = 'JP1001'").fetchall()
    assert [(actor, details["withdrawn"]) for actor, details in withdrawn] == [("system", True)]
