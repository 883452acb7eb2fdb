"""Retention sweeps in SQL: old rows leave in small batches, each its own short transaction.

A batch deletes rows picked by an indexed time column (by primary key; on PostgreSQL by ctid). On PostgreSQL
the rows are picked with FOR UPDATE SKIP LOCKED, so a sweep never waits on a row someone else holds, and it never
touches the customers row or a chain head a check locks: a check never waits on a sweep for longer than one
batch's row locks on rows that old (none a check reads for update). On SQLite each batch is one short write
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from verify_service.adapters.pacing import PACE, Paced
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.tables import (
    agent_activity,
    agent_anomalies,
    approvals,
    attempt_counters,
    challenges,
    contacts,
    entry_links,
    outbox,
    schedule_turns,
    verifications,
)
from verify_service.domain.lockout import to_ms
from verify_service.domain.retention import Sweep

SIGN_IN_KEYS = ("signin-user:%", "signin-ip:%", "audited:signin-%")  # domain/users.py's throttle keys


class SqlSweep:
    """Removes a table's rows whose `column` is older than the cutoff (and that match `only`)."""

    def __init__(self, db: SqlDatabase, kind: str, column: sa.Column[datetime], *,
                 only: Sequence[sa.ColumnElement[bool]] = (), pace: float = PACE):
        self.kind, self._db, self._column, self._only, self._pace = kind, db, column, tuple(only), Paced(pace)
        table = column.table
        assert isinstance(table, sa.Table)
        self._table, self._key = table, table.primary_key.columns.values()[0]

    def _due(self, cutoff: datetime) -> sa.ColumnElement[bool]:
        """The rows this sweep removes."""
        return sa.and_(self._column < cutoff, *self._only)

    def run(self, cutoff: datetime, *, dry_run: bool, batch: int) -> int:
        """Delete `batch` rows per transaction until none is left: how many went (dry run: would go)."""
        if dry_run:
            with self._db.transaction(write=False) as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(self._table)
                                        .where(self._due(cutoff))).scalar_one())
        removed = 0
        while True:
            with self._pace():  # then a pause as long as the batch took (adapters/pacing.py)
                taken = self._batch(cutoff, batch)
            removed += taken
            if taken < batch:
                return removed

    def _batch(self, cutoff: datetime, batch: int) -> int:
        """One batch in its own transaction."""
        with self._db.transaction(write=True) as conn:
            taken = conn.execute(self._delete(cutoff, batch)).rowcount
            conn.commit()
        return int(taken)

    def _delete(self, cutoff: datetime, batch: int) -> sa.Delete:
        """The batch's DELETE. PostgreSQL: by ctid (`ctid = any(array(SELECT ctid ... FOR UPDATE SKIP LOCKED))`,
        a TID scan: 3 to 6 times the rows per second of `id IN (SELECT id ...)`, bench/retention_sweep.py); the
        locked rows cannot move before the DELETE in the same transaction."""
        if self._db.dialect != "postgresql":
            return self._table.delete().where(self._key.in_(sa.select(self._key).where(self._due(cutoff))
                                                            .limit(batch)))
        ctid: sa.ColumnElement[Any] = sa.literal_column("ctid")
        picked = (sa.select(ctid).select_from(self._table).where(self._due(cutoff)).limit(batch)
                  .with_for_update(skip_locked=True))
        return self._table.delete().where(ctid == sa.func.any(sa.func.array(picked.scalar_subquery())))


class SignInThrottleSweep:
    """Console sign-in throttles (usernames and client addresses) with no failure or lock since the cutoff.

    Only the single-instance counter keeps them in the database (Redis expires its own keys). A row changed
    between the read and the delete is left alone: it is deleted only if it is still what was read.
    """

    kind = "console_sessions"

    def __init__(self, db: SqlDatabase):
        self._db = db

    def run(self, cutoff: datetime, *, dry_run: bool, batch: int) -> int:
        """Delete stale throttle rows, `batch` keys per transaction."""
        removed, after, cutoff_ms = 0, "", to_ms(cutoff)
        while True:
            with self._db.transaction(write=not dry_run) as conn:
                rows = self._page(conn, after, batch)
                stale = [row for row in rows if _stale(row[1], row[2], cutoff_ms)]
                if not dry_run:
                    for key, failures, locked in stale:
                        removed += self._delete(conn, key, failures, locked)
                    conn.commit()
                else:
                    removed += len(stale)
            if len(rows) < batch:
                return removed
            after = rows[-1][0]

    def _page(self, conn: Connection, after: str, batch: int) -> list[tuple[str, str, int | None]]:
        """The next `batch` sign-in throttle rows by key."""
        table = attempt_counters
        picked = sa.select(table.c.key, table.c.failures, table.c.locked_until_ms).where(
            table.c.key > after, sa.or_(*(table.c.key.like(pattern) for pattern in SIGN_IN_KEYS)),
        ).order_by(table.c.key).limit(batch)
        return [(row[0], row[1], row[2]) for row in conn.execute(picked)]

    def _delete(self, conn: Connection, key: str, failures: str, locked: int | None) -> int:
        """Delete the row if nobody changed it since it was read."""
        table = attempt_counters
        return int(conn.execute(table.delete().where(
            table.c.key == key, table.c.failures == failures,
            table.c.locked_until_ms.is_not_distinct_from(locked))).rowcount)


def _stale(failures: str, locked_until_ms: int | None, cutoff_ms: int) -> bool:
    """No failure and no lock end at or after the cutoff."""
    times = [int(part) for part in failures.split(",") if part]
    return max([*times, locked_until_ms or 0]) < cutoff_ms


def sql_sweeps(db: SqlDatabase) -> list[Sweep]:
    """Every kind kept in the database but audit events (the archive's own sweep): check records first."""
    return [
        SqlSweep(db, "verifications", verifications.c.checked_at),
        SqlSweep(db, "codes", challenges.c.created_at),
        SqlSweep(db, "outbox", outbox.c.next_attempt_at, only=[outbox.c.status.in_(("sent", "failed"))]),
        SqlSweep(db, "contacts", contacts.c.expires_at),
        SqlSweep(db, "approvals", approvals.c.expires_at),
        SqlSweep(db, "entry_links", entry_links.c.expires_at),
        SqlSweep(db, "agent_activity", agent_activity.c.at),
        SqlSweep(db, "anomalies", agent_anomalies.c.cleared_at),  # NULL (open) is never older than anything
        SignInThrottleSweep(db),
    ]


class SqlTurns:
    """Scheduled turns in the `schedule_turns` table: the row is locked while one process decides (the others
    pass); a turn taken holds for a period, the lease: a holder that died while sweeping is followed a period
    later by whoever looks first."""

    def __init__(self, db: SqlDatabase):
        self._db = db

    def claim(self, name: str, now: datetime, every: timedelta) -> bool:
        """Take the turn if `every` has passed since the last one was taken."""
        row = schedule_turns.c
        with self._db.transaction(write=True) as conn:
            conn.execute(self._db.insert_ignore(schedule_turns, name=name, last_at=None))
            # SKIP LOCKED: a process deciding right now (or one that hung while deciding) is never waited on; if
            # it dies before it commits, the next look (a tenth of a period later) takes the turn.
            held = conn.execute(sa.select(row.name, row.last_at).where(row.name == name)
                                .with_for_update(skip_locked=True)).one_or_none()
            if held is None:
                return False
            last = held.last_at
            # Taken this period: by anyone whose clock reads within a period of ours, ahead of it too (another
            # host's clock a little ahead, or a process that read its clock before ours but claimed after). Only
            # a clock jumped back by more than a period takes it again.
            if last is not None and abs(now - last) < every:
                return False
            conn.execute(schedule_turns.update().where(row.name == name).values(last_at=now))
            conn.commit()
        return True
