"""The lockout rule and its copies agree: random operation sequences, compared answer by answer.

Part of the counter contract suite (test_counter_contract.py). `CounterRecord` (domain/lockout.py) is the rule;
the Redis counter's Lua script is a second copy of it, the Redis counter rebuilds a count it forgot from the check
records (`CheckHistory`), and the SQL counter keeps a CounterRecord in a row. Every sequence has its own key and
runs against the rule (through `FakeAttemptCounter`) and one implementation; after every step both must have
answered the same. A disagreement prints the sequence, the seed, and how to rerun just that sequence:
`VERIFY_DIFF_SEED=<seed> VERIFY_DIFF_ONLY=<sequence> pytest tests/integration/test_counter_differential.py`.
"""

from __future__ import annotations

import copy
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis

from tests.conftest import make_settings, wipe
from tests.fakes import START, FakeAttemptCounter, FakeUnitOfWorkFactory
from tests.servers import flush_redis
from verify_service.adapters.redis.client import connect
from verify_service.adapters.redis.counters import (
    COUNTER_SCRIPT,
    RedisAttemptCounter,
    queue_clear,
    script_answer,
    script_args,
)
from verify_service.adapters.sql.counters import SqlAttemptCounter
from verify_service.bootstrap import build_services
from verify_service.domain.lockout import CounterRecord, LockoutPolicy, from_ms, to_ms
from verify_service.domain.locks import CheckHistory
from verify_service.domain.model import Customer, Verification
from verify_service.domain.ports import AttemptCounter
from verify_service.domain.standing import durable_lock

SEED = int(os.environ.get("VERIFY_DIFF_SEED", "20261123"))
ONLY = os.environ.get("VERIFY_DIFF_ONLY")
HOUR = timedelta(hours=1)
POLICIES = [
    LockoutPolicy(),  # the contract's: 5 within 24 h lock for 24 h
    LockoutPolicy(),
    LockoutPolicy(threshold=3, window=HOUR, lock_for=24 * HOUR),  # lock longer than the window
    LockoutPolicy(threshold=3, window=24 * HOUR, lock_for=HOUR),  # window longer than the lock
    LockoutPolicy(threshold=1, window=24 * HOUR, lock_for=24 * HOUR),
    LockoutPolicy(threshold=2, window=timedelta(seconds=10), lock_for=timedelta(seconds=30)),
]
# Starts run from the fake clock's 2026 to 2040, past 2**31 seconds since the epoch (January 2038).
START_SPREAD_DAYS = 14 * 365
PREFIX = "verify-diff:"


@dataclass
class Step:
    """One operation and what the rule and the implementation answered."""

    kind: str
    at: datetime
    rule: Any = None
    got: Any = None


@dataclass
class Run:
    """One random sequence: its key, policy, clock, the rule's counter and what happened so far."""

    mode: str
    index: int
    rng: random.Random = field(init=False)
    policy: LockoutPolicy = field(init=False)
    start: datetime = field(init=False)
    now: datetime = field(init=False)
    length: int = field(init=False)
    rule: FakeAttemptCounter = field(default_factory=FakeAttemptCounter)
    steps: list[Step] = field(default_factory=list)
    unrecorded: datetime | None = None  # a failure whose check record could not be written, to forget next

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{SEED}:{self.mode}:{self.index}")
        self.policy = self.rng.choice(POLICIES)
        self.start = START + timedelta(days=self.rng.randrange(START_SPREAD_DAYS),
                                       milliseconds=self.rng.randrange(1000))
        self.now = self.start
        self.length = self.rng.randint(8, 32)

    @property
    def key(self) -> str:
        """The counter key of this sequence alone."""
        return f"{self.mode}-{self.index}"

    @property
    def done(self) -> bool:
        """All its steps ran."""
        return len(self.steps) >= self.length

    def record(self) -> CounterRecord | None:
        """The rule's stored state (None before the first operation)."""
        return self.rule.records.get(self.key)

    def advance(self, *, strict: bool, skew: bool) -> None:
        """Move the clock: often exactly to, or a millisecond either side of, a window or lock edge."""
        rng, policy, now_ms = self.rng, self.policy, to_ms(self.now)
        record, edge = self.record(), None
        if record is not None and record.locked_until_ms is not None and rng.random() < 0.5:
            edge = record.locked_until_ms
        elif record is not None and record.failures:
            edge = rng.choice(record.failures) + policy.window_ms
        step_to_edge = None if edge is None else edge + rng.choice([-1, 0, 1]) - now_ms
        span, roll = max(policy.window_ms, policy.lock_ms), rng.random()
        lock_left = (record.locked_until_ms or 0) - now_ms if record is not None else 0
        if lock_left > 1 and rng.random() < 0.6:  # stay inside a running lock for a while
            step = rng.randint(1, lock_left - 1)
        elif step_to_edge is not None and step_to_edge >= (1 if strict else 0) and roll < 0.3:
            step = step_to_edge
        elif roll < 0.45:
            step = rng.choice([0, 1])
        elif roll < 0.65:
            step = rng.randint(1, max(1, span // 100))
        elif roll < 0.85:
            step = rng.randint(1, span)
        elif roll < 0.95:
            periods = [policy.window_ms, policy.lock_ms, policy.window_ms + policy.lock_ms]
            step = rng.choice(periods) + rng.randint(-2, 2)
        else:
            step = rng.randint(span, 3 * span)
        if skew and rng.random() < 0.05:  # another instance's clock is a little behind, maybe at a counted failure
            behind = [now_ms - t for t in (record.failures if record else []) if 0 < now_ms - t <= 100]
            step = -rng.choice(behind) if behind and rng.random() < 0.5 else -rng.randint(1, 50)
        self.now += timedelta(milliseconds=max(step, 1) if strict else step)

    def forget_time(self) -> datetime:
        """Mostly a counted failure's time (the newest most often), else some other moment."""
        record, rng = self.record(), self.rng
        if record is not None and record.failures and rng.random() < 0.75:
            chosen = record.failures[-1] if rng.random() < 0.5 else rng.choice(record.failures)
            moment = from_ms(chosen + rng.choice([0, 0, 0, -1, 1]))
            assert moment is not None
            return moment
        return self.start + (self.now - self.start) * rng.random()

    def next_op(self) -> tuple[str, datetime]:
        """Any operation, at any time (the Lua and SQL sequences)."""
        self.advance(strict=False, skew=True)
        kind = self.rng.choices(["fail", "state", "ok", "forget", "clear"], weights=[45, 22, 10, 15, 8])[0]
        return kind, self.forget_time() if kind == "forget" else self.now

    def next_service_op(self) -> tuple[str, datetime]:
        """What the service does (the rebuild sequences): a failure not recorded is forgotten at once."""
        if self.unrecorded is not None:
            at, self.unrecorded = self.unrecorded, None
            return "forget", at
        self.advance(strict=True, skew=False)
        kinds = ["fail", "unrecorded", "state", "ok", "clear", "evict", "forget"]
        record = self.record()
        locked = record is not None and record.locked(to_ms(self.now))
        kind = self.rng.choices(kinds, weights=[35, 7, 20, 12, 6, 40 if locked else 14, 3])[0]  # forget a lock often
        if kind == "forget":  # a moment no failure was counted at: nothing to undo
            at, counted = self.forget_time(), record.failures if record else []
            while to_ms(at) in counted:
                at += timedelta(milliseconds=1)
            return kind, at
        return kind, self.now


def port_answer(counter: AttemptCounter, key: str, kind: str, at: datetime, policy: LockoutPolicy) -> Any:
    """Ask a counter through the AttemptCounter port; the answer as a plain, comparable value."""
    if kind in ("fail", "unrecorded"):
        outcome = counter.record_failure(key, at, policy)
        return outcome.counted, outcome.failures, outcome.locked_until
    if kind == "ok":
        return counter.record_success(key, at, policy)
    if kind == "forget":
        return counter.forget_failure(key, at, policy)
    if kind == "state":
        state = counter.state(key, at, policy)
        return state.failures, state.locked_until
    assert kind == "clear", kind
    counter.clear(key)
    return None


def rule_answer(run: Run, kind: str, at: datetime) -> Any:
    """The rule's answer; a query must leave the rule's record as it was."""
    if kind == "evict":
        return None
    if kind != "state":
        return port_answer(run.rule, run.key, kind, at, run.policy)
    before = copy.deepcopy(run.record())
    answer = port_answer(run.rule, run.key, kind, at, run.policy)
    assert run.record() == (before or CounterRecord([])), f"state() changed the record: {before} -> {run.record()}"
    return answer


def check(run: Run, kind: str, at: datetime, got: Any, expected: Any) -> None:
    """Log the step; fail with the whole sequence when the answers differ."""
    run.steps.append(Step(kind, at, expected, got))
    if got != expected:
        pytest.fail(report(run), pytrace=False)


def report(run: Run) -> str:
    """The sequence up to the disagreement, with times as offsets from its start, and how to rerun it."""
    def show(value: Any) -> str:
        if isinstance(value, datetime):
            return offset(value)
        if isinstance(value, tuple):
            return "(" + ", ".join(show(v) for v in value) + ")"
        return repr(value)

    def offset(moment: datetime) -> str:
        delta = moment - run.start
        sign, delta = ("-", -delta) if delta < timedelta(0) else ("+", delta)
        ms = delta // timedelta(milliseconds=1)
        return f"{sign}{ms // 86_400_000}d{ms // 3_600_000 % 24:02}:{ms // 60_000 % 60:02}:{ms // 1000 % 60:02}" \
               f".{ms % 1000:03}"

    policy = run.policy
    lines = [f"{run.mode} sequence {run.index} (seed {SEED}) disagrees with the rule at step {len(run.steps)}.",
             f"policy: threshold {policy.threshold}, window {policy.window}, lock {policy.lock_for}; "
             f"times are offsets from {run.start.isoformat()}"]
    for number, step in enumerate(run.steps, 1):
        mark = "  " if step.got == step.rule else "!!"
        lines.append(f"{mark} {number:2} {offset(step.at):>20} {step.kind:<10} rule {show(step.rule):<44} "
                     f"got {show(step.got)}")
    select = run.mode if not run.mode.startswith("sql_") else f"'sql and {run.mode[4:]}'"
    lines.append(f"rerun: VERIFY_DIFF_SEED={SEED} VERIFY_DIFF_ONLY={run.index} "
                 f"pytest tests/integration/test_counter_differential.py -k {select}")
    return "\n".join(lines)


def runs(mode: str, count: int) -> list[Run]:
    """The sequences of one mode (just one when VERIFY_DIFF_ONLY names it)."""
    indices = [int(ONLY)] if ONLY is not None else range(count)
    return [Run(mode, index) for index in indices]


@pytest.fixture
def redis_client(databases: dict[str, dict[str, Any]]) -> Iterator[redis.Redis]:
    """This run's own logical Redis database, emptied."""
    client = connect(databases["postgres_redis"]["redis_url"], timeout=5.0)
    flush_redis(client)
    yield client
    client.close()


def test_lua_script_answers_like_the_rule(redis_client: redis.Redis) -> None:
    """2,000 sequences in lockstep: step n of every sequence goes to Redis in one pipeline."""
    counter = RedisAttemptCounter(redis_client, prefix=PREFIX)
    script = redis_client.register_script(COUNTER_SCRIPT)
    active = runs("lua", 2000)
    while active := [run for run in active if not run.done]:
        asked = []
        with redis_client.pipeline(transaction=False) as pipe:
            for run in active:  # each on its own key, so their commands never meet
                kind, at = run.next_op()
                queued = len(pipe)
                if kind == "clear":
                    queue_clear(pipe, counter.redis_key(run.key))
                else:
                    op = {"fail": "fail", "ok": "ok", "state": "state", "forget": "undo"}[kind]
                    args = script_args(at, run.policy, op, seed=CounterRecord([]), at=at if op == "undo" else None)
                    script(keys=counter.keys(run.key), args=args, client=pipe)
                asked.append((run, kind, at, rule_answer(run, kind, at), len(pipe) - queued))
            replies = iter(pipe.execute())
        for run, kind, at, expected, commands in asked:
            reply = [next(replies) for _ in range(commands)]
            check(run, kind, at, None if kind == "clear" else from_script(kind, script_answer(reply[0])), expected)


def from_script(kind: str, reply: tuple[int, int | None, bool]) -> Any:
    """The script's reply in `port_answer`'s form (as RedisAttemptCounter turns it into the port's answer)."""
    failures, locked, counted = reply
    return {"fail": (counted, failures, from_ms(locked)), "ok": from_ms(locked), "forget": counted,
            "state": (failures, from_ms(locked))}[kind]


class CheckRecords:
    """One customer's check records and row, as the check and lock services write them."""

    def __init__(self, key: str, start: datetime):
        self.uow, self.key = FakeUnitOfWorkFactory(), key
        self.uow.store.customers[key] = Customer(account_id=key, phone="+819012345678", locale="ja",
                                                 created_at=start, updated_at=start)
        self.history = CheckHistory(uow=self.uow)

    @property
    def customer(self) -> Customer:
        """The customer row."""
        return self.uow.store.customers[self.key]

    def checked(self, at: datetime, result: str, locked_until: datetime | None) -> None:
        """A check's record; a lock the counter answered is copied onto the row (the durable lock)."""
        number = len(self.uow.store.verifications)
        self.uow.store.verifications[f"ver_{number}"] = Verification(
            verification_id=f"ver_{number}", account_id=self.key, verified=result == "verified", result=result,
            factors={}, level=0, attempts_remaining=0, locked_until=locked_until, checked_at=at, valid_until=None,
            channel="phone", agent_id="agent-42", ticket_ref=None, actor="agent")
        if locked_until is not None:
            self.customer.locked_until = locked_until

    def unlocked(self, at: datetime) -> None:
        """A supervisor's unlock, stamped after it cleared the counter."""
        self.customer.locked_until, self.customer.unlocked_at = None, at

    def follow(self, kind: str, at: datetime, answer: Any) -> None:
        """What the services record after the counter answered `answer` (the rule's)."""
        if kind == "fail":
            counted, _, locked_until = answer
            self.checked(at, "rejected" if counted else "locked", locked_until)
        elif kind == "ok":
            self.checked(at, "verified" if answer is None else "locked", answer)
        elif kind == "clear":
            self.unlocked(at)


class Histories:
    """The FailureHistory of every rebuild sequence, by key."""

    def __init__(self) -> None:
        self.by_key: dict[str, CheckRecords] = {}

    def rebuild(self, key: str, now: datetime, policy: LockoutPolicy) -> CounterRecord:
        """The counter this customer's records imply."""
        return self.by_key[key].history.rebuild(key, now, policy)


def test_redis_counter_with_rebuilds_answers_like_the_rule(redis_client: redis.Redis) -> None:
    """Redis forgets counters (eviction, FLUSHDB, restart) and rebuilds them from the check records in between."""
    histories = Histories()
    counter = RedisAttemptCounter(redis_client, prefix=PREFIX, history=histories)
    for run in runs("rebuild", 300):
        records = histories.by_key[run.key] = CheckRecords(run.key, run.start)
        while not run.done:
            kind, at = run.next_service_op()
            expected = rule_answer(run, kind, at)
            redis_key = counter.redis_key(run.key)
            before = redis_client.hgetall(redis_key)
            if kind == "evict":
                redis_client.delete(redis_key)
                got = None
            elif kind == "ok" and durable_lock(records.customer, at):
                # AttemptCounter.record_success is asked only when the row holds no lock (CheckService looks first).
                got = records.customer.locked_until
            else:
                got = port_answer(counter, run.key, kind, at, run.policy)
            if kind == "state" and before:
                assert redis_client.hgetall(redis_key) == before, "state() changed a counter Redis knew"
            if kind == "unrecorded" and expected[0]:
                run.unrecorded = at  # the check service forgets a counted failure it could not record
            check(run, kind, at, got, expected)
            records.follow(kind, at, expected)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_sql_counter_answers_like_the_rule(databases: dict[str, dict[str, Any]], database: str) -> None:
    """Fewer sequences: every SQL step is a transaction."""
    services = build_services(make_settings(**databases[database]))
    wipe(services)
    counter = SqlAttemptCounter(services.db)
    try:
        for run in runs(f"sql_{database}", 40):
            while not run.done:
                kind, at = run.next_op()
                expected = rule_answer(run, kind, at)
                check(run, kind, at, port_answer(counter, run.key, kind, at, run.policy), expected)
    finally:
        services.close()
