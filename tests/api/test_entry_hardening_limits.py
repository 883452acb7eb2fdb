"""The entry page's count per client address, as a contract both stores keep (one process's dict, and Redis shared
by every instance), and what one client is counted by."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import redis

from tests.fakes import START
from verify_service.adapters.entry_page_limits import InProcessPageLimit, RedisPageLimit
from verify_service.adapters.redis.client import connect
from verify_service.api.entry_page import address_key

MINUTE_START = START.replace(second=0)


@pytest.fixture(params=["in_process", "redis"])
def make_limit(request):
    """Builds a limit of each kind (Redis: keys under a prefix of this test's own, removed afterwards)."""
    clients: list[redis.Redis] = []
    prefix = f"test-{os.urandom(4).hex()}:"

    def make(per_minute: int):
        if request.param == "in_process":
            return InProcessPageLimit(per_minute)
        client = connect(request.getfixturevalue("worker_redis_url"), timeout=1.0)
        clients.append(client)
        return RedisPageLimit(client, per_minute, prefix=prefix)

    yield make
    for client in clients:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_an_address_is_refused_past_its_minute_with_the_seconds_left(make_limit):
    limit = make_limit(3)
    at = MINUTE_START + timedelta(seconds=20)
    assert [limit.hit("198.51.100.1", at) for _ in range(3)] == [None, None, None]
    assert limit.hit("198.51.100.1", at) == 40.0
    assert limit.hit("198.51.100.1", at + timedelta(seconds=39.5)) == 0.5
    assert limit.hit("198.51.100.2", at) is None  # another address, another count


def test_a_new_minute_starts_a_new_count(make_limit):
    limit = make_limit(1)
    assert limit.hit("198.51.100.1", MINUTE_START) is None
    assert limit.hit("198.51.100.1", MINUTE_START + timedelta(seconds=59)) == 1.0
    assert limit.hit("198.51.100.1", MINUTE_START + timedelta(seconds=60)) is None


def test_the_redis_count_expires_by_itself(worker_redis_url):
    client = connect(worker_redis_url, timeout=1.0)
    prefix = f"test-{os.urandom(4).hex()}:"
    try:
        RedisPageLimit(client, 5, prefix=prefix).hit("198.51.100.1", START)
        [key] = list(client.scan_iter(f"{prefix}*"))
        assert 0 < client.pttl(key) <= 120_000 and b"198.51.100.1" in key
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client seen on a dual-stack socket
    (None, "unknown"),
    ("not-an-address", "not-an-address"),
])
def test_a_client_is_counted_by_its_ipv4_address_or_its_ipv6_slash_64(address, key):
    assert address_key(address) == key
