"""The Redis client every adapter here uses: quick to give up (fail closed), and outages as 503s."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from verify_service.errors import DependencyUnavailable, UncertainWrite

log = logging.getLogger(__name__)


def connect(url: str, *, timeout: float) -> redis.Redis:
    """A client that gives up quickly (fail closed) and reconnects by itself.

    It tries once more after a broken connection (a pooled one Redis closed), never after a timeout: a command
    that timed out may still run (queued behind a slow script), and a second copy could run too.
    """
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
                                health_check_interval=30)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Redis outages and refusals (OOM, READONLY, MISCONF) become 503s: fail closed."""
    try:
        yield
    except redis.TimeoutError as error:  # sent, maybe queued: it may still run
        log.warning("redis did not answer in time: %s", type(error).__name__)
        raise UncertainWrite(retry_after=2) from error
    except redis.RedisError as error:
        log.warning("redis unavailable: %s", type(error).__name__)
        raise DependencyUnavailable(retry_after=2) from error


def register_write_script(client: redis.Redis, source: str) -> Script:
    """Register a Lua script that writes, declared with a `#!lua` shebang (Redis 7+).

    Redis then refuses the whole script up front while it is out of memory (maxmemory with noeviction),
    so the call is a 503 with nothing written. Without the shebang, a first write that does not grow memory
    (ZREMRANGEBYSCORE) marks the script as writing, and Redis lets its later writes through: the check is
    then counted while Redis refuses writes to everyone else.
    """
    return client.register_script("#!lua\n" + source)
