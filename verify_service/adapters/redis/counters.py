"""The lockout counter in Redis: one hash per customer, changed by one Lua script.

The script is the Redis twin of `domain.lockout.CounterRecord`; the same
contract tests run against both. Times come from the service's clock (so a
fake clock works in tests); the key's TTL only collects garbage.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

import redis

from verify_service.adapters.redis.agent_watch import WATCH_FUNCTION, RedisAgentActivity, window_counts
from verify_service.adapters.redis.client import register_write_script, translate_errors
from verify_service.domain.agent_watch import CarriedAct
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy, from_ms, to_ms
from verify_service.domain.ports import FailureHistory

log = logging.getLogger(__name__)

# The rule's Redis twin, as a Lua function so that the carrying script below runs the very same code.
# A failure is stored as "ms:id" (the check's id; a failure rebuilt from the records is "ms"), so an undo takes
# back exactly that check's failure. KEYS[2] holds the ids the counter has seen (counted, or taken back before
# they ran): a repeat of a check's script (a client retry, a script queued behind a stall that runs after the
# client gave up) changes nothing, and answers with counted = its failure is still there.
COUNTER_FUNCTION = """
local function parse(fraw)
  local failures, ids = {}, {}
  for entry in string.gmatch(fraw, '[^,]+') do
    local t, id = string.match(entry, '^(%d+):?(.*)$')
    table.insert(failures, tonumber(t)); table.insert(ids, id)
  end
  return failures, ids
end
local function holds(ids, id)
  for _, held in ipairs(ids) do if held == id then return true end end
  return false
end
local function store(failures, ids, locked, ttl)
  local parts = {}
  for i, t in ipairs(failures) do parts[i] = string.format('%d', t) .. (ids[i] ~= '' and (':' .. ids[i]) or '') end
  -- The key stays even when empty: a missing key means "forgotten" (restart, flush, eviction), not "never failed".
  redis.call('HSET', KEYS[1], 'f', table.concat(parts, ','))
  if locked then redis.call('HSET', KEYS[1], 'l', string.format('%d', locked)) else redis.call('HDEL', KEYS[1], 'l') end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local function undo(failures, ids, locked, id, at, lockms)
  for i = #failures, 1, -1 do
    if (id ~= '' and ids[i] == id) or (id == '' and failures[i] == at) then
      at = failures[i]; table.remove(failures, i); table.remove(ids, i)
      if locked == at + lockms then locked = nil end  -- the lock this failure set goes with it
      return 1, locked
    end
  end
  return 0, locked
end
local function apply(failures, ids, locked, op, id, now, window, lockms, threshold)
  if locked and locked > now then return failures, ids, locked, 0 end
  local fresh, freshids, counted = {}, {}, 0
  if not locked then  -- an expired lock resets the count
    for i, t in ipairs(failures) do
      if t > now - window then table.insert(fresh, t); table.insert(freshids, ids[i]) end
    end
  end
  if op == 'fail' then
    counted = 1
    table.insert(fresh, now); table.insert(freshids, id)
    while #fresh > threshold do table.remove(fresh, 1); table.remove(freshids, 1) end
    if #fresh >= threshold then return fresh, freshids, now + lockms, counted end
  elseif op == 'ok' then
    fresh, freshids = {}, {}
  end
  return fresh, freshids, nil, counted
end
local function lockout()
  local now, window, lockms = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
  local threshold, ttl, op, id = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[11]
  local seen = false
  if id ~= '' then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - SEEN_MS)
    seen = redis.call('ZSCORE', KEYS[2], id) ~= false
  end
  local known = redis.call('EXISTS', KEYS[1]) == 1
  local fraw, lraw
  if known then
    fraw, lraw = redis.call('HGET', KEYS[1], 'f') or '', redis.call('HGET', KEYS[1], 'l') or ''
  elseif ARGV[7] == '1' or (op == 'ok' and not seen) then  -- a success is asked only when the row holds no lock
    fraw, lraw = ARGV[8], ARGV[9]
  elseif op ~= 'undo' then
    return {-2, -1, 0, 0}
  end
  if id ~= '' and op ~= 'state' and not seen then  -- from here on a repeat of this id changes nothing
    redis.call('ZADD', KEYS[2], now, id)
    redis.call('PEXPIRE', KEYS[2], SEEN_MS)
  end
  if not fraw then return {0, -1, 0, 0} end  -- an undo of a counter Redis forgot: nothing to take back
  local locked = tonumber(lraw)
  local failures, ids = parse(fraw)
  local counted, changed = 0, false
  if op == 'undo' then
    counted, locked = undo(failures, ids, locked, id, tonumber(ARGV[10]), lockms)
    changed = counted == 1
  else
    if seen then  -- a repeat answers as a query does, counted while its failure is still there
      counted = (op == 'fail' and holds(ids, id)) and 1 or 0
      op = 'state'
    end
    local done
    failures, ids, locked, done = apply(failures, ids, locked, op, id, now, window, lockms, threshold)
    if op ~= 'state' then counted, changed = done, true end
  end
  if changed or not known then store(failures, ids, locked, ttl) end
  return {#failures, locked or -1, counted, seen and 1 or 0}
end
""".replace("SEEN_MS", "3600000")  # an id is remembered for an hour: far longer than any queue behind a stall
COUNTER_SCRIPT = WATCH_FUNCTION + COUNTER_FUNCTION + """
if not (hold(1, 1, 'hash') and hold(2, 2, 'zset')) then return wrong_kind() end
return lockout()
"""
# The lockout change, then (unless the counter was forgotten: the caller rebuilds and calls again) the agent
# watch's act for the same check, atomically, in one round trip: a failure when the lockout counted one. A repeat
# of the check (its id seen) adds no act: the first run counted it, or an undo took it back.
CARRY_SCRIPT = """
if not (hold(1, 1, 'hash') and hold(2, #KEYS, 'zset')) then return wrong_kind() end
local answer = lockout()
if answer[1] == -2 then return answer end
if ARGV[6] == 'undo' then  -- the check was not recorded or answered: take its act back out of the window too
  for i = 3, #KEYS, 3 do
    redis.call('ZREM', KEYS[i + 1], ARGV[15])
    redis.call('ZREM', KEYS[i + 2], ARGV[15])
  end
  return answer
end
local failed = ARGV[6] == 'fail' and answer[3] == 1
for _, n in ipairs(watch(3, tonumber(ARGV[1]), tonumber(ARGV[12]), tonumber(ARGV[13]), ARGV[14], ARGV[15],
                         answer[4] == 0, failed)) do
  table.insert(answer, n)
end
return answer
"""
GC_MARGIN_MS = 3_600_000
CLEARED_TTL_MS = 86_400_000  # an empty counter's marker; when it expires, a rebuild finds nothing
FORGOTTEN = -2  # the script's answer for a counter Redis does not have


def script_args(now: datetime, policy: LockoutPolicy, op: str, *, seed: CounterRecord | None,
                at: datetime | None = None, op_id: str = "") -> list[int | str]:
    """COUNTER_SCRIPT's ARGV for `op` (fail, ok, state, undo of the failure at `at` or of `op_id`'s failure).

    `seed` is what a counter Redis does not know starts from; None asks the script to answer FORGOTTEN instead
    (the caller rebuilds the counter and calls again with it). `op_id` (a check's id) makes the call idempotent.
    """
    ttl = max(policy.window_ms, policy.lock_ms) + GC_MARGIN_MS
    start: list[int | str] = ["0", "", ""] if seed is None else \
        ["1", ",".join(map(str, seed.failures)), seed.locked_until_ms or ""]
    return [to_ms(now), policy.window_ms, policy.lock_ms, policy.threshold, ttl, op, *start,
            to_ms(at) if at else -1, op_id]


def script_answer(raw: list[int]) -> tuple[int, int | None, bool]:
    """The script's reply as (failures, locked_until_ms or None, counted); the rest is the carried act's."""
    failures, locked, counted = (int(value) for value in raw[:3])
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
        self._script = register_write_script(client, COUNTER_SCRIPT)
        # With the agent watch's window in the same Redis, a check's act rides on its lockout call.
        self._watch = watch
        self._carry = register_write_script(client, COUNTER_FUNCTION + WATCH_FUNCTION + CARRY_SCRIPT)

    def _run(self, key: str, now: datetime, policy: LockoutPolicy, op: str, at: datetime | None = None,
             carry: CarriedAct | None = None, check_id: str | None = None) -> tuple[int, int | None, bool]:
        """Run the script, rebuilding a forgotten counter: (failures, locked_until_ms or None, counted).

        A change carries an id (the check's, else one of its own), so a second run of the same call is a no-op.
        """
        carry = carry if self._watch is not None else None  # without the watch's sets here, nothing rides
        seed = CounterRecord([]) if self._history is None else None
        op_id = check_id or ("" if op in ("state", "undo") else f"op_{secrets.token_urlsafe(12)}")
        raw = self._call(key, script_args(now, policy, op, seed=seed, at=at, op_id=op_id), carry)
        if int(raw[0]) == FORGOTTEN:
            seed = self._rebuilt(key, now, policy)
            raw = self._call(key, script_args(now, policy, op, seed=seed, at=at, op_id=op_id), carry)
        if carry is not None and op != "undo":  # an undo takes the act out and answers no counts
            carry.counts = window_counts(raw[4:])
        return script_answer(raw)

    def _call(self, key: str, args: list[int | str], carry: CarriedAct | None) -> list[int]:
        """One script call on the customer's keys (and, carrying a check's act, on its watch keys)."""
        with translate_errors():
            if carry is None or self._watch is None:
                return list(self._script(keys=self.keys(key), args=args))
            return list(self._carry(keys=[*self.keys(key), *self._watch.carried_keys(carry)],
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

    def keys(self, key: str) -> list[str]:
        """The script's keys for one counter: the counter, and the ids it has seen."""
        return [self.redis_key(key), f"{self._prefix}attempt-ids:{key}"]

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> FailureOutcome:
        """Count a failure unless locked (and the check's act for the agent watch, when carried); once per id."""
        failures, locked, counted = self._run(key, now, policy, "fail", carry=carry, check_id=check_id)
        return FailureOutcome(counted, failures, from_ms(locked))

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> datetime | None:
        """Reset unless locked (a forgotten counter is not rebuilt first: see AttemptCounter.record_success)."""
        _, locked, _ = self._run(key, now, policy, "ok", carry=carry, check_id=check_id)
        return from_ms(locked)

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> bool:
        """Undo the failure counted at `at` (or `check_id`'s), the lock it set and the carried act it came with.

        With `check_id` the undo also stops that check's count from ever happening (its script may still be on
        its way, queued behind a stall): idempotent, and it never takes back another check's failure.
        """
        return self._run(key, at, policy, "undo", at, carry, check_id)[2]

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
