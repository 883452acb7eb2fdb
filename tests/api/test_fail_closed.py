"""Redis down: checks fail closed with 503, quickly; the service recovers by itself; locks are durable."""

import time

import pytest

from tests.conftest import make_settings, migrate
from tests.servers import PostgresServer


@pytest.fixture
def harness_on_own_redis(make_harness, databases, own_redis):
    return make_harness("postgres_redis", redis_url=own_redis.url)


def wrong(pin):
    return "000001" if pin != "000001" else "000002"


def test_checks_answer_503_quickly_while_redis_is_down_then_recover(harness_on_own_redis, own_redis):
    harness = harness_on_own_redis
    pin = harness.register()
    own_redis.stop()
    for candidate in (pin, wrong(pin)):
        started = time.monotonic()
        response = harness.check(pin=candidate)
        assert time.monotonic() - started < 3
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "service_unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    ready = harness.client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["error"]["details"]["checks"]["counters"] == "unavailable"
    assert harness.call("GET", "/v1/customers/JP1001/lock", "agent").status_code == 503
    own_redis.start()
    assert harness.check(pin=pin).get_json()["result"] == "verified"
    assert harness.client.get("/readyz").status_code == 200


def test_a_lock_survives_a_redis_restart(harness_on_own_redis, own_redis):
    harness = harness_on_own_redis
    pin = harness.register()
    for _ in range(5):
        harness.check(pin=wrong(pin))
    own_redis.stop()
    own_redis.start()  # it keeps nothing on disk: every counter is gone
    body = harness.check(pin=pin).get_json()
    assert body["result"] == "locked" and body["locked_until"] == "2026-11-24T04:05:06Z"
    lock = harness.call("GET", "/v1/customers/JP1001/lock", "admin").get_json()
    assert lock["locked"] is True and lock["failed_attempts"] == 5


def test_a_lock_survives_a_service_restart(make_harness, mode):
    harness = make_harness(mode)
    pin = harness.register()
    for _ in range(5):
        harness.check(pin=wrong(pin))
    harness.services.close()
    restarted = make_harness(mode, clean=False)
    assert restarted.check(pin=pin).get_json()["result"] == "locked"


@pytest.mark.slow
def test_database_down_answers_503_then_recovers(make_harness, databases):
    server = PostgresServer().start()
    try:
        url = server.url
        migrate(make_settings(database_url=url))
        harness = make_harness("postgres", database_url=url)
        pin = harness.register()
        server.stop()
        started = time.monotonic()
        response = harness.check(pin=pin)
        assert time.monotonic() - started < 8
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "service_unavailable"
        assert "Retry-After" in response.headers
        assert harness.client.get("/readyz").status_code == 503
        screen_pop = harness.call("GET", "/v1/verifications?call_ref=CA0123", "agent")  # an agent's screen pop
        assert screen_pop.status_code == 503 and "Retry-After" in screen_pop.headers
        assert screen_pop.get_json()["error"]["code"] == "service_unavailable"
        server.start()
        assert harness.check(pin=pin, call_ref="CA0123").get_json()["result"] == "verified"
        listed = harness.call("GET", "/v1/verifications?call_ref=CA0123", "agent").get_json()["verifications"]
        assert [v["result"] for v in listed] == ["verified"]
    finally:
        server.stop()


def test_sending_a_code_while_redis_is_down_is_503_and_queues_nothing(harness_on_own_redis, own_redis):
    harness = harness_on_own_redis
    harness.register()
    own_redis.stop()
    response = harness.call("POST", "/v1/customers/JP1001/codes", "agent", {})
    assert response.status_code == 503 and "Retry-After" in response.headers
    assert harness.services.outbox.backlog()[0] == 0
    own_redis.start()
    assert harness.call("POST", "/v1/customers/JP1001/codes", "agent", {}).status_code == 201
