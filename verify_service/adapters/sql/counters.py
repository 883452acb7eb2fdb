"""The lockout counter in SQL (single-instance mode): one row per customer, locked while updated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from verify_service.adapters.sql.agent_watch import SqlAgentActivity
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.tables import attempt_counters
from verify_service.domain.agent_watch import Activity, CarriedAct
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy, to_ms

T = TypeVar("T")


class SqlAttemptCounter:
    """Atomic through SELECT ... FOR UPDATE (PostgreSQL) or BEGIN IMMEDIATE (SQLite).

    With the agent watch's window in the same database (`watch`), a check's act is counted in the counter's own
    write transaction: one transaction a check, as with Redis holding both.
    """

    def __init__(self, db: SqlDatabase, *, watch: SqlAgentActivity | None = None):
        self._db, self._watch = db, watch

    def _load(self, conn: Connection, key: str) -> CounterRecord:
        """The counter row, created if missing, locked for this transaction."""
        conn.execute(self._db.insert_ignore(attempt_counters, key=key, failures=""))
        row = conn.execute(sa.select(attempt_counters).where(attempt_counters.c.key == key)
                           .with_for_update()).mappings().one()
        failures = [int(t) for t in row["failures"].split(",") if t]
        return CounterRecord(failures, row["locked_until_ms"])

    def _store(self, conn: Connection, key: str, record: CounterRecord) -> None:
        """Write the row back."""
        conn.execute(attempt_counters.update().where(attempt_counters.c.key == key).values(
            failures=",".join(map(str, record.failures)), locked_until_ms=record.locked_until_ms))

    def _atomically(self, key: str, change: Callable[[CounterRecord], T],
                    then: Callable[[Connection, T], None] | None = None) -> T:
        """Load, change and store one counter in a single write transaction (`then`: more work in it)."""
        with self._db.transaction(write=True) as conn:
            record = self._load(conn, key)
            result = change(record)
            self._store(conn, key, record)
            if then is not None:
                then(conn, result)
            conn.commit()
        return result

    def _carrying(self, carry: CarriedAct | None, now: datetime,
                  failed: Callable[[T], bool]) -> Callable[[Connection, T], None] | None:
        """The carried act's count, to run in the counter's transaction (None: nothing rides)."""
        watch = self._watch
        if carry is None or watch is None:
            return None

        def count(conn: Connection, result: T) -> None:
            act = Activity(carry.account_id, carry.ref, check=True, failed=failed(result))
            carry.counts = watch.record_on(conn, carry.subjects, act, now, carry.window)

        return count

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> FailureOutcome:
        """Count a failure unless locked (and the check's act for the agent watch, when carried)."""
        return self._atomically(key, lambda record: record.fail(to_ms(now), policy),
                                self._carrying(carry, now, lambda outcome: outcome.counted))

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> datetime | None:
        """Reset unless locked (and the check's act for the agent watch, when carried)."""
        return self._atomically(key, lambda record: record.succeed(to_ms(now), policy),
                                self._carrying(carry, now, lambda locked: False))

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> bool:
        """Undo the failure counted at `at`, and the lock it set (and the carried act it came with).

        `check_id` is not needed here: a write transaction either committed or did not, and is never retried.
        """
        watch = self._watch
        undo = None
        if carry is not None and carry.counts is not None and watch is not None:
            def undo(conn: Connection, forgotten: bool) -> None:
                watch.forget_on(conn, carry.subjects, carry.account_id, at)
        return self._atomically(key, lambda record: record.forget(to_ms(at), policy), undo)

    def state(self, key: str, now: datetime, policy: LockoutPolicy) -> AttemptState:
        """Read without changing."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(sa.select(attempt_counters).where(attempt_counters.c.key == key)).mappings().first()
        if row is None:
            return AttemptState(0, None)
        record = CounterRecord([int(t) for t in row["failures"].split(",") if t], row["locked_until_ms"])
        return record.state(to_ms(now), policy)

    def clear(self, key: str) -> None:
        """Delete the row."""
        with self._db.transaction(write=True) as conn:
            conn.execute(attempt_counters.delete().where(attempt_counters.c.key == key))
            conn.commit()

    def ping(self) -> None:
        """The database is the counter store here."""
        self._db.ping()
