"""The lockout counter in Redis: one hash per customer, changed by one Lua script.

The script is the Redis twin of `domain.lockout.CounterRecord`; the same
contract tests run against both. Times come from the service's clock (so a
fake clock works in tests); the key's TTL only collects garbage.
"""

from __future__ import annotations

import logging
from datetime import datetime

import redis

from verify_service.adapters.redis.agent_watch import WATCH_FUNCTION, RedisAgentActivity, window_counts
from verify_service.adapters.redis.client import translate_errors
from verify_service.domain.agent_watch import CarriedAct
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy, from_ms, to_ms
from verify_service.domain.ports import FailureHistory

log = logging.getLogger(__name__)

# The rule's Redis twin, as a Lua function so that the carrying script below runs the very same code.
COUNTER_FUNCTION = """
local function lockout()
  local now, window, lockms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
  local threshold, ttl, op = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
  local known = redis.call('EXISTS', KEYS[1]) == 1
  local fraw, lraw
  if known then
    fraw, lraw = redis.call('HGET', KEYS[1], 'f') or '', redis.call('HGET', KEYS[1], 'l') or ''
  elseif ARGV[7] == '1' or op == 'ok' then  -- a success is asked only when the customer row holds no lock
    fraw, lraw = ARGV[8], ARGV[9]
  elseif op == 'undo' then
    return {0, -1, 0}
  else
    return {-2, -1, 0}
  end
  local locked = tonumber(lraw)
  local failures = {}
  for t in string.gmatch(fraw, '[^,]+') do table.insert(failures, tonumber(t)) end
  local counted, dirty = 0, not known
  if op == 'undo' then
    local at = tonumber(ARGV[10])
    for i = #failures, 1, -1 do
      if failures[i] == at then table.remove(failures, i); counted = 1; dirty = true; break end
    end
    if counted == 1 and locked == at + lockms then locked = nil end
  elseif not (locked and locked > now) then
    if locked then failures = {}; locked = nil end
    local fresh = {}
    for _, t in ipairs(failures) do
      if t > now - window then table.insert(fresh, t) end
    end
    failures = fresh
    if op == 'fail' then
      counted, dirty = 1, true
      table.insert(failures, now)
      while #failures > threshold do table.remove(failures, 1) end
      if #failures >= threshold then locked = now + lockms end
    elseif op == 'ok' then
      failures, dirty = {}, true
    end
  end
  if dirty then
    local parts = {}
    for i, t in ipairs(failures) do parts[i] = string.format('%d', t) end
    -- The key stays even when empty: a missing key means "forgotten" (restart, flush, eviction), not "never failed".
    redis.call('HSET', KEYS[1], 'f', table.concat(parts, ','))
    if locked then redis.call('HSET', KEYS[1], 'l', string.format('%d', locked))
    else redis.call('HDEL', KEYS[1], 'l') end
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return {#failures, locked or -1, counted}
end
"""
COUNTER_SCRIPT = COUNTER_FUNCTION + "return lockout()\n"
# The lockout change, then (unless the counter was forgotten: the caller rebuilds and calls again) the agent
# watch's act for the same check, atomically, in one round trip: a failure when the lockout counted one.
CARRY_SCRIPT = """
if not (hold(1, 1, 'hash') and hold(2, #KEYS, 'zset')) then return wrong_kind() end
local answer = lockout()
if answer[1] == -2 then return answer end
if ARGV[6] == 'undo' then  -- the check could not be recorded: take its act back out of the watch's window too
  for i = 2, #KEYS, 3 do
    redis.call('ZREM', KEYS[i + 1], ARGV[14])
    redis.call('ZREM', KEYS[i + 2], ARGV[14])
  end
  return answer
end
local failed = ARGV[6] == 'fail' and answer[3] == 1
for _, n in ipairs(watch(2, tonumber(ARGV[1]), tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13], ARGV[14], true,
                         failed)) do
  table.insert(answer, n)
end
return answer
"""
GC_MARGIN_MS = 3_600_000
CLEARED_TTL_MS = 86_400_000  # an empty counter's marker; when it expires, a rebuild finds nothing
FORGOTTEN = -2  # the script's answer for a counter Redis does not have


def script_args(now: datetime, policy: LockoutPolicy, op: str, *, seed: CounterRecord | None,
                at: datetime | None = None) -> list[int | str]:
    """COUNTER_SCRIPT's ARGV for `op` (fail, ok, state, undo of the failure at `at`).

    `seed` is what a counter Redis does not know starts from; None asks the script to answer FORGOTTEN instead
    (the caller rebuilds the counter and calls again with it).
    """
    ttl = max(policy.window_ms, policy.lock_ms) + GC_MARGIN_MS
    start: list[int | str] = ["0", "", ""] if seed is None else \
        ["1", ",".join(map(str, seed.failures)), seed.locked_until_ms or ""]
    return [to_ms(now), policy.window_ms, policy.lock_ms, policy.threshold, ttl, op, *start,
            to_ms(at) if at else -1]


def script_answer(raw: list[int]) -> tuple[int, int | None, bool]:
    """The script's reply as (failures, locked_until_ms or None, counted)."""
    failures, locked, counted = (int(value) for value in raw)
    return failures, (locked if locked >= 0 else None), bool(counted)


def queue_clear(pipe: redis.client.Pipeline, redis_key: str) -> None:
    """Queue the commands that empty one counter, keeping its key as the "known, nothing counted" marker."""
    pipe.delete(redis_key)
    pipe.hset(redis_key, "f", "")
    pipe.pexpire(redis_key, CLEARED_TTL_MS)


class RedisAttemptCounter:
    """Atomic per customer through a single Lua script call.

    Redis may lose a counter (restart without persistence, FLUSHDB, eviction). With a `history`, a
    counter Redis does not know is rebuilt from the durable check records before it is changed, so
    "5 failures within the window" holds through that; a known counter costs one round trip.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "verify:", history: FailureHistory | None = None,
                 watch: RedisAgentActivity | None = None):
        self._client = client
        self._prefix = prefix
        self._history = history
        self._script = client.register_script(COUNTER_SCRIPT)
        # With the agent watch's window in the same Redis, a check's act rides on its lockout call.
        self._watch = watch
        self._carry = client.register_script(COUNTER_FUNCTION + WATCH_FUNCTION + CARRY_SCRIPT)

    def _run(self, key: str, now: datetime, policy: LockoutPolicy, op: str, at: datetime | None = None,
             carry: CarriedAct | None = None) -> tuple[int, int | None, bool]:
        """Run the script, rebuilding a forgotten counter: (failures, locked_until_ms or None, counted)."""
        carry = carry if self._watch is not None else None  # without the watch's sets here, nothing rides
        seed = CounterRecord([]) if self._history is None else None
        raw = self._call(key, script_args(now, policy, op, seed=seed, at=at), carry)
        if int(raw[0]) == FORGOTTEN:
            raw = self._call(key, script_args(now, policy, op, seed=self._rebuilt(key, now, policy), at=at), carry)
        if carry is not None and op != "undo":  # an undo takes the act out and answers no counts
            carry.counts = window_counts(raw[3:])
        return script_answer(raw[:3])

    def _call(self, key: str, args: list[int | str], carry: CarriedAct | None) -> list[int]:
        """One script call on the customer's key (and, carrying a check's act, on its watch keys)."""
        with translate_errors():
            if carry is None or self._watch is None:
                return list(self._script(keys=[self.redis_key(key)], args=args))
            return list(self._carry(keys=[self.redis_key(key), *self._watch.carried_keys(carry)],
                                    args=[*args, *self._watch.carried_args(carry)]))

    def _rebuilt(self, key: str, now: datetime, policy: LockoutPolicy) -> CounterRecord:
        """The counter as the durable records tell it."""
        assert self._history is not None
        record = self._history.rebuild(key, now, policy)
        log.info("lockout counter rebuilt from check records (Redis did not know it)")
        return record

    def redis_key(self, key: str) -> str:
        """The Redis key of one counter."""
        return f"{self._prefix}attempts:{key}"

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy,
                       carry: CarriedAct | None = None) -> FailureOutcome:
        """Count a failure unless locked (and the check's act for the agent watch, when carried)."""
        failures, locked, counted = self._run(key, now, policy, "fail", carry=carry)
        return FailureOutcome(counted, failures, from_ms(locked))

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy,
                       carry: CarriedAct | None = None) -> datetime | None:
        """Reset unless locked (a forgotten counter is not rebuilt first: see AttemptCounter.record_success)."""
        _, locked, _ = self._run(key, now, policy, "ok", carry=carry)
        return from_ms(locked)

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None) -> bool:
        """Undo the failure counted at `at`, and the lock it set (and the carried act it came with)."""
        return self._run(key, at, policy, "undo", at, carry)[2]

    def state(self, key: str, now: datetime, policy: LockoutPolicy) -> AttemptState:
        """Read without changing (a forgotten counter is rebuilt and kept)."""
        failures, locked, _ = self._run(key, now, policy, "state")
        return AttemptState(failures, from_ms(locked))

    def clear(self, key: str) -> None:
        """Forget the customer's failures and lock (known to be none: no rebuild afterwards)."""
        with translate_errors(), self._client.pipeline(transaction=True) as pipe:
            queue_clear(pipe, self.redis_key(key))
            pipe.execute()

    def ping(self) -> None:
        """Raise DependencyUnavailable unless Redis answers and accepts a write."""
        with translate_errors():
            self._client.set(f"{self._prefix}health", "1", ex=10)
