"""API key revocations announced to every instance through Redis pub/sub.

Each process holds one subscription and reads it without blocking at the start of every
authentication (no thread: a sync worker reads its pending messages before it trusts its cache).
A revocation publishes one message after its commit; every subscribed process drops its cached keys
when it next authenticates. A subscription that breaks, or was just made, counts as "something may
have been missed": the cache is dropped, and is not used at all while there is no subscription.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry

from verify_service.domain.keys import CHANGED, DOWN, LIVE, FeedState

log = logging.getLogger(__name__)
CHANNEL = "verify:api-keys:revoked"


class RedisRevocationFeed:
    """Publishes revocations and tells this process whether its cached keys still hold."""

    def __init__(self, url: str, *, timeout: float, retry_after: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic):
        # No retries inside redis-py: a broken subscription must surface here, not be silently re-made.
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                            retry=Retry(NoBackoff(), 0))
        self._timeout, self._retry_after, self._monotonic = timeout, retry_after, monotonic
        self._pubsub: PubSub | None = None
        self._readable: select.poll | None = None  # the subscription's socket, to skip the read when it is quiet
        self._pid: int | None = None
        self._next_try = 0.0

    def publish(self) -> bool:
        """Announce a revocation; False (logged) when Redis could not be told."""
        try:
            self._client.publish(CHANNEL, "revoked")
            return True
        except redis.RedisError as error:
            log.warning("key revoked, but other instances could not be told (%s): they refuse it once their "
                        "cached entry expires", type(error).__name__)
            return False

    def poll(self) -> FeedState:
        """LIVE: nothing announced since the last poll; CHANGED: drop the cache; DOWN: do not cache."""
        if self._pubsub is None or self._pid != os.getpid():
            return self._subscribe()
        try:
            if self._readable is not None and not self._readable.poll(0):
                return LIVE  # nothing arrived, and every read leaves the parser's buffer empty (_drain)
            return CHANGED if _drain(self._pubsub) else LIVE
        except (redis.RedisError, OSError, ValueError):  # hiredis polls a closed socket as fd -1: ValueError
            log.warning("key revocation feed lost; API keys are looked up on every request until it is back")
            self._drop()
            return DOWN

    def _subscribe(self) -> FeedState:
        """Subscribe (at most once per retry_after after a failure) and wait for Redis to confirm."""
        if self._pid != os.getpid():
            self._pubsub = self._readable = None  # a forked child must not read its parent's socket
        if self._monotonic() < self._next_try:
            return DOWN
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(CHANNEL)
            confirmed = pubsub.get_message(timeout=self._timeout)
            if confirmed is None or confirmed.get("type") != "subscribe":
                raise redis.ConnectionError("no subscription confirmation")
            readable = self._socket_poll(pubsub)
        except (redis.RedisError, OSError, ValueError) as error:
            log.warning("key revocation feed unavailable (%s); API keys are looked up on every request",
                        type(error).__name__)
            self._next_try = self._monotonic() + self._retry_after
            with contextlib.suppress(redis.RedisError, OSError, ValueError):
                pubsub.close()
            return DOWN
        self._pubsub, self._readable, self._pid = pubsub, readable, os.getpid()
        return CHANGED  # whatever was cached before this subscription may have missed a revocation

    def _socket_poll(self, pubsub: PubSub) -> select.poll | None:
        """A poll object on the subscription's socket, after reading what already came with the confirmation.

        A quiet socket then means nothing was announced: every read empties the parser's buffer (_drain), and any
        rest of a message still makes the socket readable. A closed socket polls as readable (HUP, ERR or NVAL), so
        the full read reports it. None (the full read then runs every time) where the client keeps no socket we can
        see, or sends health checks (`health_check_interval` in the URL): redis-py sends those from its reads.
        """
        _drain(pubsub)  # the cache is dropped on subscribing anyway
        connection = pubsub.connection
        sock = getattr(connection, "_sock", None)
        if sock is None or getattr(connection, "health_check_interval", None):
            return None
        readable = select.poll()
        readable.register(sock.fileno(), select.POLLIN)
        return readable

    def _drop(self) -> None:
        """Forget the subscription (a later poll makes a new one)."""
        if self._pubsub is not None and self._pid == os.getpid():
            try:
                self._pubsub.close()
            except (redis.RedisError, OSError, ValueError):
                pass
        self._pubsub = None
        self._readable = None

    def close(self) -> None:
        """Release the subscription and the publishing connection."""
        self._drop()
        self._client.close()


MAX_DRAIN = 100  # reads in one poll; a feed that still has more is not quiet: the cache is dropped


def _drain(pubsub: PubSub) -> bool:
    """Read everything the subscription holds, on the socket and in the parser's buffer; True if anything came.

    Reads while the connection says it can, not until get_message returns None: that is also its answer to a
    health-check reply, which may share a read with a message behind it. A health-check reply counts as nothing;
    anything else as a revocation (be safe). Past MAX_DRAIN reads the answer is True; what is left was received
    before this answer dropped the cache, and any later message makes the socket readable again.
    """
    connection = pubsub.connection
    assert connection is not None
    pubsub.check_health()  # sends redis-py's PING when `health_check_interval` is set and one is due
    changed = False
    for _ in range(MAX_DRAIN):
        if not connection.can_read(timeout=0):
            return changed
        if pubsub.get_message(timeout=0) is not None:
            changed = True
    return True
