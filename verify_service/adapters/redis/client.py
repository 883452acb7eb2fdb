"""The Redis client every adapter here uses: quick to give up (fail closed), and outages as 503s."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from verify_service.errors import DependencyUnavailable

log = logging.getLogger(__name__)


def connect(url: str, *, timeout: float) -> redis.Redis:
    """A client that gives up quickly (fail closed) and reconnects by itself."""
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 1), health_check_interval=30)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Redis outages and refusals (OOM, READONLY, MISCONF) become 503s: fail closed."""
    try:
        yield
    except redis.RedisError as error:
        log.warning("redis unavailable: %s", type(error).__name__)
        raise DependencyUnavailable(retry_after=2) from error
