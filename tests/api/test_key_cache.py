"""API keys cached per process (multi-instance mode): revocation still reaches every instance.

The bound: a revoked key is refused by the revoking process on its next request, by every other
process on its first request after Redis delivered the revocation message, and by any process no
later than VERIFY_API_KEY_CACHE_SECONDS after it cached the key should that message be lost.
"""

import time

import pytest
import redis

from verify_service.adapters.redis.revocations import CHANNEL


@pytest.fixture(autouse=True)
def _a_redis_nobody_else_publishes_on(request, databases, monkeypatch):
    """Channels are server-wide: another xdist worker's revocations must not reach these subscriptions."""
    if "postgres_redis" in databases:
        monkeypatch.setitem(databases["postgres_redis"], "redis_url", request.getfixturevalue("quiet_redis_url"))


@pytest.fixture
def redis_url(quiet_redis_url):
    return quiet_redis_url


def get(harness, secret):
    return harness.client.get("/v1/customers/X", headers={"Authorization": f"Bearer {secret}"}).status_code


def lookups(harness, monkeypatch):
    """Count the database lookups of API keys."""
    seen = []
    original = harness.services.keys._lookup
    monkeypatch.setattr(harness.services.keys, "_lookup", lambda digest: seen.append(digest) or original(digest))
    return seen


def test_a_live_key_is_looked_up_once_then_cached(make_harness, monkeypatch):
    harness = make_harness("postgres_redis")
    _, secret = harness.services.keys.create("cached", ["agent"])
    seen = lookups(harness, monkeypatch)
    assert [get(harness, secret) for _ in range(5)] == [404] * 5
    assert len(seen) == 1


def test_unknown_keys_are_never_cached(make_harness, monkeypatch):
    harness = make_harness("postgres_redis")
    seen = lookups(harness, monkeypatch)
    assert [get(harness, "vk_nope") for _ in range(3)] == [401] * 3
    assert len(seen) == 3


def test_a_revoked_key_is_refused_on_the_next_request_in_the_same_process(make_harness):
    harness = make_harness("postgres_redis")
    _, secret = harness.services.keys.create("temp", ["agent"])
    assert get(harness, secret) == 404
    harness.services.keys.revoke("temp")
    assert get(harness, secret) == 401


def test_a_key_revoked_on_one_instance_is_refused_by_another_once_the_message_arrives(make_harness):
    first = make_harness("postgres_redis")
    second = make_harness("postgres_redis", clean=False)
    _, secret = first.services.keys.create("shared", ["agent"])
    assert get(first, secret) == 404 and get(second, secret) == 404  # both cached it
    first.services.keys.revoke("shared")
    started = time.monotonic()
    while get(second, secret) != 401:
        assert time.monotonic() - started < 1, "the second instance still accepts a revoked key"
        time.sleep(0.005)
    assert get(first, secret) == 401


def test_a_key_revoked_by_another_process_is_refused_by_both_instances(make_harness, redis_url):
    # `flask keys revoke` runs in a process of its own: only the database and the message reach the servers.
    first = make_harness("postgres_redis")
    second = make_harness("postgres_redis", clean=False)
    _, secret = first.services.keys.create("from-cli", ["agent"])
    assert get(first, secret) == 404 and get(second, secret) == 404
    with first.services.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE api_keys SET revoked_at = now() WHERE name = 'from-cli'")
    assert get(first, secret) == 404  # cached, and nobody said anything yet
    assert redis.Redis.from_url(redis_url).publish(CHANNEL, "revoked") >= 2
    started = time.monotonic()
    while get(first, secret) != 401 or get(second, secret) != 401:
        assert time.monotonic() - started < 1, "a revoked key is still accepted after the message"
        time.sleep(0.005)


def test_a_lost_message_is_bounded_by_the_cache_age(make_harness):
    first = make_harness("postgres_redis", api_key_cache_seconds=5)
    second = make_harness("postgres_redis", clean=False, api_key_cache_seconds=5)
    now = [1000.0]
    second.services.keys._monotonic = lambda: now[0]
    _, secret = first.services.keys.create("lost", ["agent"])
    assert get(second, secret) == 404
    first.services.keys._feed.publish = lambda: False  # Redis could not be told
    first.services.keys.revoke("lost")
    now[0] += 4.9
    assert get(second, secret) == 404  # the message never came: the entry still holds...
    now[0] += 0.2
    assert get(second, secret) == 401  # ...but no longer than VERIFY_API_KEY_CACHE_SECONDS


def test_nothing_is_cached_while_the_feed_is_down(make_harness, monkeypatch):
    harness = make_harness("postgres_redis")
    _, secret = harness.services.keys.create("down", ["agent"])
    monkeypatch.setattr(harness.services.keys._feed, "poll", lambda: "down")
    seen = lookups(harness, monkeypatch)
    assert [get(harness, secret) for _ in range(3)] == [404] * 3
    assert len(seen) == 3


def test_a_broken_subscription_drops_the_cache_and_resubscribes(make_harness, monkeypatch):
    harness = make_harness("postgres_redis")
    _, secret = harness.services.keys.create("broken", ["agent"])
    assert get(harness, secret) == 404
    feed = harness.services.keys._feed
    feed._pubsub.connection._sock.close()  # the connection dies under us (a Redis restart)
    seen = lookups(harness, monkeypatch)
    assert get(harness, secret) == 404 and len(seen) == 1  # not served from the cache
    assert get(harness, secret) == 404  # a new subscription...
    assert get(harness, secret) == 404 and len(seen) == 2  # ...then cached again


def test_a_zero_cache_age_looks_every_key_up(make_harness, monkeypatch):
    harness = make_harness("postgres_redis", api_key_cache_seconds=0)
    _, secret = harness.services.keys.create("uncached", ["agent"])
    seen = lookups(harness, monkeypatch)
    assert [get(harness, secret) for _ in range(3)] == [404] * 3
    assert len(seen) == 3


def test_without_redis_keys_are_never_cached(make_harness, monkeypatch):
    # Single-instance mode: `flask keys revoke` runs in another process than the server's workers,
    # and there is no feed to tell them, so every request looks its key up.
    harness = make_harness("sqlite")
    _, secret = harness.services.keys.create("plain", ["agent"])
    seen = lookups(harness, monkeypatch)
    assert [get(harness, secret) for _ in range(3)] == [404] * 3
    assert len(seen) == 3


def test_a_quiet_feed_is_not_read_and_messages_arriving_together_are_all_taken(make_harness, monkeypatch,
                                                                                redis_url):
    # The feed reads its subscription only when the socket has something: a quiet one costs one poll(2).
    first = make_harness("postgres_redis")
    second = make_harness("postgres_redis", clean=False)
    _, secret = first.services.keys.create("quiet", ["agent"])
    assert get(second, secret) == 404
    pubsub = second.services.keys._feed._pubsub
    reads = []
    original = pubsub.get_message
    monkeypatch.setattr(pubsub, "get_message", lambda **kw: reads.append(kw) or original(**kw))
    assert [get(second, secret) for _ in range(3)] == [404] * 3
    assert reads == []
    publisher = redis.Redis.from_url(redis_url)
    publisher.publish(CHANNEL, "revoked")  # two messages that arrive together: both are read, then quiet again
    publisher.publish(CHANNEL, "revoked")
    publisher.close()
    first.services.keys.revoke("quiet")
    started = time.monotonic()
    while get(second, secret) != 401:
        assert time.monotonic() - started < 1, "a revoked key is still accepted after the message"
        time.sleep(0.005)
    time.sleep(0.05)
    get(second, secret)
    assert not pubsub.connection.can_read(timeout=0)  # all three read: none left in the parser's buffer
    reads.clear()
    time.sleep(0.05)
    get(second, secret)
    get(second, secret)
    assert reads == []
