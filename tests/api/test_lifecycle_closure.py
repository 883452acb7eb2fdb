"""Account closure and the admin listing with a dependency down, and entry links racing a closure (issue 20).

A dependency is made unavailable for real: a throwaway PostgreSQL cluster or a redis-server of the test's own is
stopped, never a mock of our storage.
"""

import threading
import time

import pytest
import sqlalchemy as sa

from tests.conftest import assert_retry_later
from verify_service.bootstrap import policy_from

PHONE = "+819012345678"
CLOSE = {"reason": "customer asked to close the account"}
PUBLIC = "https://verify.example.com"
LINK = {"agent_id": "agent-42", "channel": "chat", "ticket_ref": "T-2026-1"}


def close(h, account="JP1001"):
    return h.call("DELETE", f"/v1/customers/{account}", "portal", CLOSE)


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def closed_events(h):
    return h.call("GET", "/v1/audit?event=customer_closed", "admin").get_json()["events"]


def assert_untouched(h, pin):
    """Nothing of the account was erased: the PIN verifies, the phone is there, no closure was audited."""
    # The first check after the restart is answered: a connection the restart closed is replaced before use.
    assert h.check(pin=pin).get_json()["result"] == "verified"
    assert h.call("GET", "/v1/customers/JP1001", "portal").status_code == 200
    with h.services.db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT phone, closed_at FROM customers WHERE account_id = 'JP1001'")).one()
    assert (row.phone, row.closed_at) == (PHONE, None)
    assert closed_events(h) == []


def assert_closed_once(h):
    """A retry closes the account, once: erased data, one audit event, a repeat changes nothing."""
    first = close(h)
    assert first.status_code == 200 and first.get_json()["status"] == "closed" and first.get_json()["erased"]
    again = close(h)
    assert again.status_code == 200 and again.get_json()["erased"] == {}
    assert again.get_json()["closed_at"] == first.get_json()["closed_at"]
    assert len(closed_events(h)) == 1
    assert h.call("GET", "/v1/customers/JP1001", "portal").status_code == 410


@pytest.fixture
def on_own_redis(make_harness, databases, own_redis):
    """Multi-instance mode (PostgreSQL + Redis) on a redis-server of the test's own."""
    return make_harness("postgres_redis", redis_url=own_redis.url)


# ---- 1. closure with the database down ----

@pytest.mark.slow
@pytest.mark.parametrize("with_redis", [False, True], ids=["postgres", "postgres_redis"])
def test_closure_while_the_database_is_down_is_503_and_erases_nothing_then_a_retry_closes_once(
        make_harness, throwaway_postgres, with_redis):
    mode = "postgres_redis" if with_redis else "postgres"
    h = make_harness(mode, database_url=throwaway_postgres.url)
    pin = h.register(phone=PHONE)
    throwaway_postgres.stop()
    started = time.monotonic()
    response = close(h)
    assert time.monotonic() - started < 8  # the pool's connect timeout, not a hang
    assert_retry_later(response)
    throwaway_postgres.start()
    assert_untouched(h, pin)
    assert_closed_once(h)


# ---- 2. closure with Redis down (the lockout counter lives there) ----

def failures(h):
    """The account's failures as the service's own counter (Redis) holds them."""
    policy = policy_from(h.services.settings)
    return h.services.counter.state("JP1001", h.clock.now(), policy).failures


def test_closure_while_redis_is_down_is_503_and_erases_nothing_then_a_retry_closes_once(on_own_redis, own_redis):
    h = on_own_redis
    pin = h.register(phone=PHONE)
    h.check(pin=wrong(pin))  # a lockout counter in Redis that the closure must clear
    own_redis.stop()
    assert_retry_later(close(h))
    own_redis.start()  # it keeps nothing on disk; the counter is rebuilt from the check records
    assert failures(h) == 1  # the closure did not clear it either
    assert_untouched(h, pin)
    h.check(pin=wrong(pin))
    assert failures(h) == 1
    assert_closed_once(h)
    assert failures(h) == 0


def test_a_repeat_delete_clears_a_lockout_counter_a_closure_left_behind(on_own_redis, own_redis):
    h = on_own_redis
    pin = h.register(phone=PHONE)
    assert close(h).status_code == 200
    # A counter left behind (as when Redis failed between the commit and the clearing), counted through the
    # service's own counter as a check would have.
    h.services.counter.record_failure("JP1001", h.clock.now(), policy_from(h.services.settings))
    assert failures(h) == 1
    own_redis.stop()
    assert_retry_later(close(h))  # the repeat cannot clear it: 503, so the client retries
    own_redis.start()
    h.services.counter.record_failure("JP1001", h.clock.now(), policy_from(h.services.settings))
    again = close(h)
    assert again.status_code == 200 and again.get_json()["erased"] == {}
    assert failures(h) == 0
    assert h.check(pin=pin).status_code == 410
    assert len(closed_events(h)) == 1


# ---- 3. the admin listing with a dependency down ----

def listings(h):
    key = h.services.keys.authenticate(h.keys["agent"]).name
    return [h.call("GET", "/v1/verifications?agent_id=agent-42", "admin"),
            h.call("GET", f"/v1/verifications?key={key}", "admin")]


def test_the_admin_listing_needs_only_the_database_so_redis_down_still_answers_it(on_own_redis, own_redis):
    h = on_own_redis
    pin = h.register(phone=PHONE)
    made = [h.check(pin=pin).get_json()["verification_id"], h.check(pin=wrong(pin)).get_json()["verification_id"]]
    own_redis.stop()
    for response in listings(h):
        assert response.status_code == 200, response.get_json()
        assert sorted(v["verification_id"] for v in response.get_json()["verifications"]) == sorted(made)


@pytest.mark.slow
def test_the_admin_listing_while_the_database_is_down_is_503_then_answers(make_harness, throwaway_postgres):
    h = make_harness("postgres_redis", database_url=throwaway_postgres.url)
    pin = h.register(phone=PHONE)
    made = h.check(pin=pin).get_json()["verification_id"]
    key = h.services.keys.authenticate(h.keys["agent"]).name
    throwaway_postgres.stop()
    for query in ("agent_id=agent-42", f"key={key}"):
        assert_retry_later(h.call("GET", f"/v1/verifications?{query}", "admin"))
    throwaway_postgres.start()
    for response in listings(h):
        assert [v["verification_id"] for v in response.get_json()["verifications"]] == [made]


# ---- 4. entry links racing a closure ----

def live_links(h, account):
    with h.services.db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM entry_links WHERE account_id = :a"), {"a": account}).scalar()


def make_links(h, account, start, made):
    """Three entry links for the account, as fast as they come, once every thread is ready."""
    start.wait()
    for _ in range(3):
        made.append(h.call("POST", f"/v1/customers/{account}/entry-links", "agent", LINK))


@pytest.mark.parametrize("mode", ["sqlite", "postgres_redis"])
def test_entry_links_racing_a_closure_never_leave_a_live_link(make_harness, mode):
    # Every page request comes from the test client's one address: past the page's limit per address it would
    # answer 429 before looking the token up (tests/api/test_entry_hardening.py tests that limit).
    h = make_harness(mode, entry_link_public_url=PUBLIC, entry_link_max_per_customer_per_hour=1000,
                     entry_link_max_per_agent_per_hour=1000, entry_page_max_per_address_per_minute=100_000)
    outcomes = {"before": 0, "refused": 0}
    rounds = 25 if mode == "postgres_redis" else 10
    for round_ in range(rounds):
        account = f"JP{2000 + round_}"
        h.register(account, phone=f"+8190{12340000 + round_}")
        made, start = [], threading.Barrier(4)

        threads = [threading.Thread(target=make_links, args=(h, account, start, made)) for _ in range(3)]
        for thread in threads:
            thread.start()
        start.wait()
        closed = close(h, account)
        for thread in threads:
            thread.join()
        assert closed.status_code == 200
        assert live_links(h, account) == 0
        for response in made:
            if response.status_code == 201:  # made before the closure, then erased by it
                outcomes["before"] += 1
                path = response.get_json()["url"][len(PUBLIC):]
                assert h.client.get(path).status_code == 404
                assert h.client.post(path, data={"pin": "123456", "submission": "x" * 20}).status_code == 404
            else:
                assert (response.status_code, response.get_json()["error"]["code"]) == (410, "account_closed")
                outcomes["refused"] += 1
        h.clock.advance(1)
    assert outcomes["before"] + outcomes["refused"] == rounds * 9  # every creation was one or the other
