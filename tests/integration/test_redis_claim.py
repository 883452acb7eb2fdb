"""The suite empties only Redis databases it marked as its own: someone else's keys are never deleted.

Every test here runs on a throwaway redis-server of its own, never on the machine's shared one.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.servers import (
    MARKER,
    OWNER,
    RedisClaims,
    RedisServer,
    claim_free_redis_database,
    claim_redis_database,
    flush_redis,
    release_redis_database,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server():
    """A redis-server of this test's own."""
    own = RedisServer().start()
    yield own
    own.stop()


def db(server, index):
    return redis.Redis.from_url(f"{server.url.rsplit('/', 1)[0]}/{index}")


def url(server, index):
    return f"{server.url.rsplit('/', 1)[0]}/{index}"


def test_an_empty_database_is_claimed_with_a_marker_of_this_process(server):
    assert claim_free_redis_database(server.url) == url(server, 1)
    assert db(server, 1).get(MARKER) == OWNER.encode() and db(server, 1).dbsize() == 1


def test_a_database_holding_a_foreign_key_is_skipped_and_never_flushed(server):
    db(server, 1).set("their:data", "precious")
    assert claim_free_redis_database(server.url) == url(server, 2)
    with pytest.raises(RuntimeError, match="not marked as this test run's own"):
        flush_redis(url(server, 1))
    release_redis_database(url(server, 1))
    assert db(server, 1).get("their:data") == b"precious" and db(server, 1).get(MARKER) is None


def test_a_database_marked_by_another_live_run_is_not_ours(server):
    db(server, 1).set(MARKER, f"other-host:{os.getpid()}:feed")
    assert not claim_redis_database(url(server, 1))
    db(server, 2).set(MARKER, f"{OWNER.split(':')[0]}:{os.getppid()}:feed")  # this host, a live process
    assert not claim_redis_database(url(server, 2))
    assert claim_free_redis_database(server.url) == url(server, 3)


def test_a_database_left_by_a_dead_run_on_this_host_is_reused(server):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    db(server, 1).set(MARKER, f"{OWNER.split(':')[0]}:{dead.stdout.strip()}:feed")
    db(server, 1).set("verify:left-over", "1")
    assert claim_free_redis_database(server.url) == url(server, 1)
    assert db(server, 1).keys() == [MARKER.encode()]


def test_a_flush_keeps_the_marker_and_refuses_once_the_marker_is_gone(server):
    claimed = claim_free_redis_database(server.url)
    db(server, 1).set("verify:x", "1")
    flush_redis(claimed)
    assert db(server, 1).keys() == [MARKER.encode()]
    db(server, 1).set(MARKER, "someone-else")  # the marker changed hands: nothing of it is ours any more
    db(server, 1).set("their:data", "1")
    with pytest.raises(RuntimeError):
        flush_redis(redis.Redis.from_url(claimed))
    assert db(server, 1).dbsize() == 2


def test_the_claim_is_released_empty_and_unmarked(server):
    claimed = claim_free_redis_database(server.url)
    db(server, 1).set("verify:x", "1")
    release_redis_database(claimed)
    assert db(server, 1).dbsize() == 0
    with pytest.raises(RuntimeError):
        flush_redis(claimed)


def test_when_every_database_holds_foreign_keys_a_throwaway_server_is_used(server):
    for index in range(16):
        db(server, index).set("their:data", index)
    claims = RedisClaims(server.url)
    try:
        claimed = claims.claim()
        assert claimed.rsplit("/", 1)[0] != server.url.rsplit("/", 1)[0]
        assert redis.Redis.from_url(claimed).get(MARKER) == OWNER.encode()
        assert claims.claim().rsplit("/", 1)[0] == claimed.rsplit("/", 1)[0]  # the same throwaway server again
    finally:
        claims.close()
    assert all(db(server, index).get("their:data") == str(index).encode() for index in range(16))


def test_a_test_run_pointed_at_a_redis_with_foreign_data_leaves_it_untouched(server, tmp_path):
    # The whole suite's fixtures, end to end: a run that uses Redis, on a server where database 1 is someone's.
    db(server, 1).set("their:data", "precious")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env["VERIFY_TEST_REDIS_URL"] = server.url
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--basetemp", str(tmp_path / "inner"), "-k", "redis",
                          "tests/integration/test_counter_contract.py"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert db(server, 1).keys() == [b"their:data"]
    assert all(db(server, index).dbsize() == 0 for index in range(2, 16))  # the run's own claim was released


def test_a_database_locked_by_an_older_copy_of_the_suite_is_skipped_and_our_lock_is_given_back(server):
    db(server, 0).set("verify-test:claim:1", "12345", ex=60)  # how older runs claim database 1 (then flush it)
    claimed = claim_free_redis_database(server.url)
    assert claimed == url(server, 2) and db(server, 0).get("verify-test:claim:2") == OWNER.encode()
    release_redis_database(claimed)
    assert db(server, 0).get("verify-test:claim:2") is None and db(server, 0).get("verify-test:claim:1") == b"12345"
