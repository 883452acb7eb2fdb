"""Agent anomalies in SQL, and the activity window of single-instance mode (one row per act and subject)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.tables import agent_activity, agent_anomalies
from verify_service.domain.agent_watch import Activity, Anomaly, WindowCounts
from verify_service.domain.names import AnomalyKind

_FIELDS = ("subject_id", "kind", "count", "threshold", "window_seconds", "raised_at", "cleared_at", "cleared_by",
           "clear_reason", "key_name", "agent_id")
KINDS = tuple(kind.value for kind in AnomalyKind)


def _anomaly(row: RowMapping) -> Anomaly:
    """Map an agent_anomalies row to the domain record."""
    return Anomaly(anomaly_id=row["id"], subject=row["subject_kind"], **{name: row[name] for name in _FIELDS})


class SqlAnomalyRepository:
    """Agent anomalies in the `agent_anomalies` table."""

    def __init__(self, conn: Connection, db: SqlDatabase):
        self._conn, self._db = conn, db

    def add_open(self, anomaly: Anomaly) -> bool:
        """INSERT unless an open one holds the same open_key (a racing instance raised it first)."""
        values = {"id": anomaly.anomaly_id, "subject_kind": anomaly.subject, "open_key": anomaly.open_key,
                  **{name: getattr(anomaly, name) for name in _FIELDS}}
        # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT here.
        inserted = self._db.insert_ignore(agent_anomalies, **values).returning(agent_anomalies.c.id)
        return self._conn.execute(inserted).first() is not None

    def open_for(self, subjects: Sequence[str], kinds: Sequence[str] | None = None) -> Anomaly | None:
        """One read through the unique open_key index."""
        keys = [f"{subject}:{kind}" for subject in subjects for kind in (kinds or KINDS)]
        row = self._conn.execute(sa.select(agent_anomalies).where(agent_anomalies.c.open_key.in_(keys))
                                 .order_by(agent_anomalies.c.raised_at).limit(1)).mappings().first()
        return _anomaly(row) if row is not None else None

    def get(self, anomaly_id: str) -> Anomaly | None:
        """An anomaly by id."""
        row = self._conn.execute(sa.select(agent_anomalies).where(agent_anomalies.c.id == anomaly_id)
                                 ).mappings().first()
        return _anomaly(row) if row is not None else None

    def listed(self, open_only: bool | None, limit: int) -> list[Anomaly]:
        """Newest first, optionally only open or only cleared ones."""
        query = sa.select(agent_anomalies)
        if open_only is not None:
            column = agent_anomalies.c.cleared_at
            query = query.where(column.is_(None) if open_only else column.is_not(None))
        query = query.order_by(agent_anomalies.c.raised_at.desc(), agent_anomalies.c.id).limit(limit)
        return [_anomaly(row) for row in self._conn.execute(query).mappings()]

    def clear(self, anomaly: Anomaly) -> bool:
        """Write the clearing only while still open (the open_key is freed for the next episode)."""
        result = self._conn.execute(agent_anomalies.update().where(
            agent_anomalies.c.id == anomaly.anomaly_id, agent_anomalies.c.cleared_at.is_(None)).values(
            cleared_at=anomaly.cleared_at, cleared_by=anomaly.cleared_by, clear_reason=anomaly.clear_reason,
            open_key=None))
        return bool(result.rowcount)


_IN_WINDOW = sa.select(
    agent_activity.c.subject,
    sa.func.sum(sa.case((agent_activity.c.is_check, 1), else_=0)),
    sa.func.sum(sa.case((agent_activity.c.failed, 1), else_=0)),
    sa.func.count(sa.distinct(agent_activity.c.account_id)),
).where(agent_activity.c.subject.in_(sa.bindparam("subjects", expanding=True)),
        agent_activity.c.at > sa.bindparam("since", type_=agent_activity.c.at.type)).group_by(agent_activity.c.subject)


class SqlAgentActivity:
    """The window in the `agent_activity` table: insert, drop what aged out, count, in one transaction.

    Exact under concurrency: SQLite has one writer at a time (BEGIN IMMEDIATE); PostgreSQL takes a transaction
    advisory lock per subject (in one order, so two acts never deadlock).
    """

    def __init__(self, db: SqlDatabase):
        self._db = db

    def record(self, subjects: Sequence[str], activity: Activity, now: datetime,
               window: timedelta) -> list[WindowCounts]:
        """Count the act for every subject; return their counts in the same order."""
        with self._db.transaction(write=True) as conn:
            counts = self.record_on(conn, subjects, activity, now, window)
            conn.commit()
        return counts

    def record_on(self, conn: Connection, subjects: Sequence[str], activity: Activity, now: datetime,
                  window: timedelta) -> list[WindowCounts]:
        """`record` inside the caller's write transaction (the SQL lockout counter's, carrying a check's act)."""
        since = now - window
        rows: list[dict[str, Any]] = [
            {"subject": subject, "account_id": activity.account_id, "is_check": activity.check,
             "failed": activity.failed, "at": now} for subject in subjects]
        self._lock(conn, subjects)
        conn.execute(agent_activity.delete().where(agent_activity.c.subject.in_(subjects),
                                                   agent_activity.c.at <= since))
        conn.execute(agent_activity.insert(), rows)
        found = {row[0]: row for row in conn.execute(_IN_WINDOW, {"subjects": list(subjects), "since": since})}
        return [_counts(found.get(subject)) for subject in subjects]

    def forget_on(self, conn: Connection, subjects: Sequence[str], account_id: str, at: datetime) -> None:
        """Take a failed check back out of the counts, inside the caller's write transaction: one row per subject.

        As in Redis, the check and its failure leave the window and the customer stays touched (the row becomes a
        plain touch). Rows carry no check id; any row of the same subject, customer, time and outcome is the same
        act count-wise.
        """
        self._lock(conn, subjects)
        for subject in subjects:
            row = conn.execute(sa.select(agent_activity.c.id).where(
                agent_activity.c.subject == subject, agent_activity.c.account_id == account_id,
                agent_activity.c.at == at, agent_activity.c.is_check.is_(True), agent_activity.c.failed.is_(True),
            ).limit(1)).first()
            if row is not None:
                conn.execute(agent_activity.update().where(agent_activity.c.id == row[0]).values(
                    is_check=False, failed=False))

    def _lock(self, conn: Connection, subjects: Sequence[str]) -> None:
        """Serialise acts of one subject on PostgreSQL until commit."""
        if self._db.dialect != "postgresql":
            return
        for subject in sorted(set(subjects)):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": f"agent-watch:{subject}"})

    def reset(self, subject: str) -> None:
        """Delete the subject's rows."""
        with self._db.transaction(write=True) as conn:
            self._lock(conn, [subject])
            conn.execute(agent_activity.delete().where(agent_activity.c.subject == subject))
            conn.commit()


def _counts(row: Any) -> WindowCounts:
    """WindowCounts from (subject, checks, failures, customers), or zeros."""
    if row is None:
        return WindowCounts()
    return WindowCounts(checks=int(row[1] or 0), failures=int(row[2] or 0), customers=int(row[3] or 0))
