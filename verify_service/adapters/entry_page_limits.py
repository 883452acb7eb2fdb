"""How often one client address may open or post the entry link page: a fixed one-minute window per address.

In Redis (multi-instance mode) every instance shares one count per address; in single-instance mode each worker
process counts on its own (no store to fail, no write per page view; gunicorn's N workers allow up to N times the
setting). Both count by the service's clock, so a fake clock works in tests; the Redis key's TTL only collects
garbage. A Redis that does not answer raises DependencyUnavailable: the page then answers 503 (fail closed).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import redis

from verify_service.adapters.redis.client import register_write_script, translate_errors
from verify_service.domain.lockout import to_ms

MINUTE = timedelta(minutes=1)
# One address's count in the current window, created with its expiry (two windows: the TTL only collects garbage).
COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def _window(now: datetime, window: timedelta) -> tuple[int, float]:
    """The window's number and the seconds left in it."""
    size = int(window.total_seconds() * 1000)
    index, into = divmod(to_ms(now), size)
    return index, (size - into) / 1000


class InProcessPageLimit:
    """The count of each address in the current window, in this process (the last window's are dropped)."""

    def __init__(self, per_window: int, window: timedelta = MINUTE):
        self._per, self._size = per_window, window
        self._index, self._counts = -1, dict[str, int]()
        self._lock = threading.Lock()

    def hit(self, address: str, now: datetime) -> float | None:
        """Count one request; None when allowed, else the seconds until the window ends."""
        index, left = _window(now, self._size)
        with self._lock:
            if index > self._index:
                self._index, self._counts = index, {}  # memory: only the addresses seen this minute
            count = self._counts[address] = self._counts.get(address, 0) + 1
        return None if count <= self._per else left


class RedisPageLimit:
    """One counter per address and window in Redis, shared by every instance (one INCR script per request)."""

    def __init__(self, client: redis.Redis, per_window: int, window: timedelta = MINUTE, *,
                 prefix: str = "verify:"):
        self.client, self._per, self._size, self._prefix = client, per_window, window, prefix
        self._script = register_write_script(client, COUNT_SCRIPT)

    def hit(self, address: str, now: datetime) -> float | None:
        """Count one request; None when allowed, else the seconds until the window ends."""
        index, left = _window(now, self._size)
        key = f"{self._prefix}entry-page:{index}:{address}"
        with translate_errors():
            count = int(self._script(keys=[key], args=[2 * int(self._size.total_seconds() * 1000)]))
        return None if count <= self._per else left
