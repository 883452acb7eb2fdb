"""The lockout counter in SQL (single-instance mode): one row per customer, locked while updated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.tables import attempt_counters
from verify_service.domain.agent_watch import CarriedAct
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy, to_ms

T = TypeVar("T")


class SqlAttemptCounter:
    """Atomic through SELECT ... FOR UPDATE (PostgreSQL) or BEGIN IMMEDIATE (SQLite)."""

    def __init__(self, db: SqlDatabase):
        self._db = db

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

    def _atomically(self, key: str, change: Callable[[CounterRecord], T]) -> T:
        """Load, change and store one counter in a single write transaction."""
        with self._db.transaction(write=True) as conn:
            record = self._load(conn, key)
            result = change(record)
            self._store(conn, key, record)
            conn.commit()
        return result

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy,
                       carry: CarriedAct | None = None) -> FailureOutcome:
        """Count a failure unless locked (a carried act is left to the agent watch)."""
        return self._atomically(key, lambda record: record.fail(to_ms(now), policy))

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy,
                       carry: CarriedAct | None = None) -> datetime | None:
        """Reset unless locked (a carried act is left to the agent watch)."""
        return self._atomically(key, lambda record: record.succeed(to_ms(now), policy))

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None) -> bool:
        """Undo the failure counted at `at`, and the lock it set (this counter never carries an act)."""
        return self._atomically(key, lambda record: record.forget(to_ms(at), policy))

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
