"""The agent activity window in Redis: three sorted sets per subject, changed by one Lua script per act.

Per subject: `c` (customers, score = last touch), `n` (checks) and `f` (failed checks), members older than the
window trimmed on every act. The keys are their own (`verify:watch:...`): nothing here is read by the lockout
rule, and nothing here decides a block (the open anomaly rows in SQL do). Times come from the service's clock;
the TTL only collects garbage. A forgotten window (restart, flush) starts again from zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import redis

from verify_service.adapters.redis.client import register_write_script, translate_errors
from verify_service.domain.agent_watch import Activity, CarriedAct, WindowCounts
from verify_service.domain.lockout import to_ms

# One act for the subjects whose three keys start at KEYS[first] (the lockout script carries it from KEYS[2]).
WATCH_FUNCTION = """
-- Redis keeps the writes a script made before an error, so a script checks every key it writes first: one that
-- holds another kind of value (only an outside writer could cause it) fails the whole call with nothing changed.
local function hold(first, last, kind)
  for i = first, last do
    local found = redis.call('TYPE', KEYS[i])['ok']
    if found ~= kind and found ~= 'none' then return false end
  end
  return true
end
local function wrong_kind()
  return redis.error_reply('WRONGTYPE a lockout or agent watch key holds another kind of value; nothing was changed')
end
local function watch(first, now, window, ttl, account, ref, is_check, failed)
  local out = {}
  for i = first, #KEYS, 3 do
    local customers, checks, failures = KEYS[i], KEYS[i + 1], KEYS[i + 2]
    local seen = tonumber(redis.call('ZSCORE', customers, account))
    if not seen or seen < now then redis.call('ZADD', customers, now, account) end
    if is_check then redis.call('ZADD', checks, now, ref) end
    if failed then redis.call('ZADD', failures, now, ref) end
    for _, key in ipairs({checks, failures, customers}) do
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
      table.insert(out, redis.call('ZCARD', key))
      redis.call('PEXPIRE', key, ttl)
    end
  end
  return out
end
"""
WATCH_SCRIPT = WATCH_FUNCTION + """
if not hold(1, #KEYS, 'zset') then return wrong_kind() end
return watch(1, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6] == '1',
             ARGV[7] == '1')
"""
GC_MARGIN_MS = 60_000


class RedisAgentActivity:
    """Atomic across every instance: one script call records an act for all its subjects and counts them."""

    def __init__(self, client: redis.Redis, *, prefix: str = "verify:"):
        self.client, self._prefix = client, prefix
        self._script = register_write_script(client, WATCH_SCRIPT)

    def keys(self, subject: str) -> list[str]:
        """The three sorted sets of a subject."""
        return [f"{self._prefix}watch:{subject}:{part}" for part in ("c", "n", "f")]

    def record(self, subjects: Sequence[str], activity: Activity, now: datetime,
               window: timedelta) -> list[WindowCounts]:
        """One round trip for every subject of the act."""
        window_ms = int(window.total_seconds() * 1000)
        args: list[int | str] = [to_ms(now), window_ms, window_ms + GC_MARGIN_MS, activity.account_id, activity.ref,
                                 int(activity.check), int(activity.failed)]
        with translate_errors():
            raw = list(self._script(keys=[key for subject in subjects for key in self.keys(subject)], args=args))
        return window_counts(raw)

    def carried_keys(self, act: CarriedAct) -> list[str]:
        """The keys a carried check's act changes (after the lockout counter's own)."""
        return [key for subject in act.subjects for key in self.keys(subject)]

    def carried_args(self, act: CarriedAct) -> list[int | str]:
        """The watch's arguments of a carried check (after the lockout counter's own; `now` is shared)."""
        window_ms = int(act.window.total_seconds() * 1000)
        return [window_ms, window_ms + GC_MARGIN_MS, act.account_id, act.ref]

    def reset(self, subject: str) -> None:
        """Delete the subject's sets."""
        with translate_errors():
            self.client.delete(*self.keys(subject))


def window_counts(raw: Sequence[int | bytes]) -> list[WindowCounts]:
    """The watch function's answer (three numbers a subject) as counts."""
    values = [int(value) for value in raw]
    return [WindowCounts(checks=values[i], failures=values[i + 1], customers=values[i + 2])
            for i in range(0, len(values), 3)]
