"""The revocation feed reads its subscription empty: a health-check reply never hides a message behind it."""

import time

import pytest
import redis

from verify_service.adapters.redis.revocations import CHANNEL, RedisRevocationFeed, _drain


@pytest.fixture
def redis_url(quiet_redis_url):
    """Channels are server-wide: another xdist worker's revocations must not reach these subscriptions."""
    return quiet_redis_url


def _wait_readable(pubsub, seconds=1.0):
    deadline = time.monotonic() + seconds
    while not pubsub.connection.can_read(timeout=0.01):
        assert time.monotonic() < deadline, "nothing arrived"


def test_a_health_check_reply_read_together_with_a_revocation_does_not_hide_it(redis_url):
    client = redis.Redis.from_url(f"{redis_url}?health_check_interval=1")
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    time.sleep(1.1)
    pubsub.check_health()  # the PING redis-py sends from its reads once the interval has passed
    publisher = redis.Redis.from_url(redis_url)
    publisher.publish(CHANNEL, "revoked")  # its message arrives right behind the PONG
    time.sleep(0.05)
    _wait_readable(pubsub)
    assert _drain(pubsub) is True
    # Nothing but health-check replies is left (redis-py may PING again on a slow machine: interval 1 s).
    leftovers = []
    while pubsub.connection.can_read(timeout=0):
        leftovers.append(pubsub.get_message(timeout=0))
    assert leftovers == [None] * len(leftovers)
    assert _drain(pubsub) is False
    publisher.close()
    pubsub.close()
    client.close()


def test_with_health_checks_the_feed_reads_on_every_poll_so_they_are_sent(redis_url):
    # The quiet-socket shortcut would skip redis-py's reads, which are what send its health checks.
    feed = RedisRevocationFeed(f"{redis_url}?health_check_interval=1", timeout=1.0)
    assert feed.poll() == "changed"  # subscribed
    time.sleep(1.1)
    sent = []
    original = feed._pubsub.check_health
    feed._pubsub.check_health = lambda: sent.append(1) or original()
    assert feed.poll() == "live"
    assert sent
    feed.close()


def test_a_burst_of_messages_is_read_empty_and_counts_as_a_change(redis_url):
    feed = RedisRevocationFeed(redis_url, timeout=1.0)
    assert feed.poll() == "changed"
    publisher = redis.Redis.from_url(redis_url)
    for _ in range(5):
        publisher.publish(CHANNEL, "revoked")
    time.sleep(0.05)
    assert feed.poll() == "changed"
    assert not feed._pubsub.connection.can_read(timeout=0)
    assert feed.poll() == "live"
    publisher.close()
    feed.close()
