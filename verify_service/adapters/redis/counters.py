"""The lockout counter in Redis: one hash per customer, changed by one Lua script.

The script is the Redis twin of `domain.lockout.CounterRecord`; the same
contract tests run against both. Times come from the service's clock (so a
fake clock works in tests); the key's TTL only collects garbage.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from verify_service.domain.lockout import AttemptState, FailureOutcome, LockoutPolicy, from_ms, to_ms
from verify_service.errors import DependencyUnavailable

log = logging.getLogger(__name__)

COUNTER_SCRIPT = """
local now, window, lockms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local threshold, ttl, op = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local locked = tonumber(redis.call('HGET', KEYS[1], 'l') or '')
local failures = {}
for t in string.gmatch(redis.call('HGET', KEYS[1], 'f') or '', '[^,]+') do
  table.insert(failures, tonumber(t))
end
if locked and locked > now then
  return {#failures, locked, 0}
end
if locked then failures = {}; locked = nil end
local fresh = {}
for _, t in ipairs(failures) do
  if t > now - window then table.insert(fresh, t) end
end
failures = fresh
local counted = 0
if op == 'fail' then
  counted = 1
  table.insert(failures, now)
  while #failures > threshold do table.remove(failures, 1) end
  if #failures >= threshold then locked = now + lockms end
elseif op == 'ok' then
  failures = {}
end
if op ~= 'state' then
  if #failures == 0 and not locked then
    redis.call('DEL', KEYS[1])
  else
    local parts = {}
    for i, t in ipairs(failures) do parts[i] = string.format('%d', t) end
    redis.call('HSET', KEYS[1], 'f', table.concat(parts, ','))
    if locked then redis.call('HSET', KEYS[1], 'l', string.format('%d', locked))
    else redis.call('HDEL', KEYS[1], 'l') end
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
end
return {#failures, locked or -1, counted}
"""
GC_MARGIN_MS = 3_600_000


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


class RedisAttemptCounter:
    """Atomic per customer through a single Lua script call."""

    def __init__(self, client: redis.Redis, *, prefix: str = "verify:"):
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(COUNTER_SCRIPT)

    def _run(self, key: str, now: datetime, policy: LockoutPolicy, op: str) -> tuple[int, int | None, bool]:
        """Run the script: (failures, locked_until_ms or None, counted)."""
        ttl = max(policy.window_ms, policy.lock_ms) + GC_MARGIN_MS
        args: list[int | str] = [to_ms(now), policy.window_ms, policy.lock_ms, policy.threshold, ttl, op]
        with translate_errors():
            failures, locked, counted = self._script(keys=[f"{self._prefix}attempts:{key}"], args=args)
        return int(failures), (int(locked) if int(locked) >= 0 else None), bool(counted)

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy) -> FailureOutcome:
        """Count a failure unless locked."""
        failures, locked, counted = self._run(key, now, policy, "fail")
        return FailureOutcome(counted, failures, from_ms(locked))

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy) -> datetime | None:
        """Reset unless locked."""
        _, locked, _ = self._run(key, now, policy, "ok")
        return from_ms(locked)

    def state(self, key: str, now: datetime, policy: LockoutPolicy) -> AttemptState:
        """Read without changing."""
        failures, locked, _ = self._run(key, now, policy, "state")
        return AttemptState(failures, from_ms(locked))

    def clear(self, key: str) -> None:
        """Forget the customer's failures and lock."""
        with translate_errors():
            self._client.delete(f"{self._prefix}attempts:{key}")

    def ping(self) -> None:
        """Raise DependencyUnavailable unless Redis answers and accepts a write."""
        with translate_errors():
            self._client.set(f"{self._prefix}health", "1", ex=10)
