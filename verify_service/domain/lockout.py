"""The lockout rule: failures per customer in a window, then a lock.

Counters store failure times and the lock's end as integer milliseconds so the
same rule runs identically in Python (SQL and fake counters) and in Redis Lua.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failures, within what window, lock for how long."""

    threshold: int = 5
    window: timedelta = timedelta(hours=24)
    lock_for: timedelta = timedelta(hours=24)

    @property
    def window_ms(self) -> int:
        """The failure window in milliseconds."""
        return int(self.window.total_seconds() * 1000)

    @property
    def lock_ms(self) -> int:
        """The lock period in milliseconds."""
        return int(self.lock_for.total_seconds() * 1000)


@dataclass(frozen=True)
class AttemptState:
    """What a counter knows about one customer right now."""

    failures: int
    locked_until: datetime | None


@dataclass(frozen=True)
class FailureOutcome:
    """The answer of recording one failed attempt."""

    counted: bool
    failures: int
    locked_until: datetime | None

    @property
    def locked_now(self) -> bool:
        """This failure reached the threshold and set the lock."""
        return self.counted and self.locked_until is not None


@dataclass
class CounterRecord:
    """The stored state of one counter: failure times and lock end, in ms."""

    failures: list[int]
    locked_until_ms: int | None = None

    def _expire(self, now_ms: int, policy: LockoutPolicy) -> None:
        """Drop an expired lock (which resets the count) and stale failures."""
        if self.locked_until_ms is not None and self.locked_until_ms <= now_ms:
            self.failures, self.locked_until_ms = [], None
        horizon = now_ms - policy.window_ms
        self.failures = [t for t in self.failures if t > horizon]

    def locked(self, now_ms: int) -> bool:
        """True while the lock runs."""
        return self.locked_until_ms is not None and self.locked_until_ms > now_ms

    def fail(self, now_ms: int, policy: LockoutPolicy) -> FailureOutcome:
        """Count one failure unless locked; lock at the threshold."""
        if self.locked(now_ms):
            return FailureOutcome(False, len(self.failures), from_ms(self.locked_until_ms))
        self._expire(now_ms, policy)
        self.failures.append(now_ms)
        # Only the newest `threshold` times can ever matter.
        self.failures = self.failures[-policy.threshold :]
        if len(self.failures) >= policy.threshold:
            self.locked_until_ms = now_ms + policy.lock_ms
        return FailureOutcome(True, len(self.failures), from_ms(self.locked_until_ms))

    def succeed(self, now_ms: int, policy: LockoutPolicy) -> datetime | None:
        """Reset the count, unless a lock runs (then return its end)."""
        if self.locked(now_ms):
            return from_ms(self.locked_until_ms)
        self.failures, self.locked_until_ms = [], None
        return None

    def forget(self, at_ms: int, policy: LockoutPolicy) -> bool:
        """Undo the failure counted at `at_ms` (and the lock it set): its check could not be recorded."""
        if at_ms not in self.failures:
            return False
        self.failures.remove(at_ms)
        if self.locked_until_ms == at_ms + policy.lock_ms:
            self.locked_until_ms = None
        return True

    def state(self, now_ms: int, policy: LockoutPolicy) -> AttemptState:
        """Failures within the window and the running lock, if any (changes nothing)."""
        if self.locked(now_ms):
            return AttemptState(len(self.failures), from_ms(self.locked_until_ms))
        if self.locked_until_ms is not None:
            return AttemptState(0, None)  # an expired lock reset the count
        horizon = now_ms - policy.window_ms
        return AttemptState(sum(1 for t in self.failures if t > horizon), None)


def counter_from_checks(checks: list[tuple[datetime, str, datetime | None]], now: datetime,
                        policy: LockoutPolicy) -> CounterRecord:
    """The counter that a customer's recorded checks imply: (checked_at, result, locked_until), newest first.

    Every counted failure has a `rejected` record; the one that reached the threshold carries the
    lock's end. A `verified` check reset the count, and so did the end of a lock. A running lock keeps
    the failures that set it (the rule counts them until the lock ends), so they are looked up too.
    """
    failures: list[int] = []
    for index, (checked_at, result, locked_until) in enumerate(checks):
        if result == "verified":
            break
        if locked_until is not None:
            if locked_until > now:
                before = _failures_that_locked(checks[index + 1:], to_ms(checked_at), policy)
                return CounterRecord(sorted([*failures, *before, to_ms(checked_at)]), to_ms(locked_until))
            failures = [t for t in failures if t >= to_ms(locked_until)]  # the lock ran while now < its end
            break
        failures.append(to_ms(checked_at))
    horizon = to_ms(now) - policy.window_ms
    return CounterRecord(sorted(t for t in failures if t > horizon)[-policy.threshold:])


def _failures_that_locked(older: list[tuple[datetime, str, datetime | None]], locked_at_ms: int,
                          policy: LockoutPolicy) -> list[int]:
    """The failures counted with the one that set a lock: rejected checks in its window, back to a reset."""
    found: list[int] = []
    for checked_at, result, locked_until in older[:policy.threshold - 1]:
        if result != "rejected" or locked_until is not None or to_ms(checked_at) <= locked_at_ms - policy.window_ms:
            break
        found.append(to_ms(checked_at))
    return found


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, rounded down (in integers: float seconds lose a millisecond in some years)."""
    return (moment - EPOCH) // MILLISECOND


def from_ms(value: int | None) -> datetime | None:
    """A UTC datetime from epoch milliseconds (None stays None); to_ms(from_ms(t)) == t."""
    if value is None:
        return None
    return EPOCH + value * MILLISECOND


def attempts_remaining(result: str, failures: int, policy: LockoutPolicy) -> int:
    """The contract's attempts_remaining for a check result."""
    if result == "verified":
        return policy.threshold
    if result == "rejected":
        return max(0, policy.threshold - failures)
    return 0
