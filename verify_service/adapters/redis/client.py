"""The Redis client every adapter here uses: quick to give up (fail closed), and outages as 503s."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import redis
from redis.backoff import NoBackoff
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
