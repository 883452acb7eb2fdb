"""SQL repository for approval requests: changes that race are single UPDATEs guarded by status and expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.tables import approvals
from verify_service.domain.model import Approval

_FIELDS = ("account_id", "status", "reason", "agent_id", "channel", "ticket_ref", "actor", "created_at",
           "expires_at", "answered_at", "used_at")


def _approval(row: RowMapping) -> Approval:
    """Map an approvals row."""
    return Approval(approval_id=row["id"], **{name: row[name] for name in _FIELDS})


def transition_stamps(target: str, now: datetime) -> dict[str, Any]:
    """The time columns a move to `target` sets: an answer stamps answered_at, a use used_at, a reopen clears."""
    if target == "used":
        return {"used_at": now}
    return {"answered_at": None if target == "pending" else now}


class SqlApprovalRepository:
    """Approval requests in the `approvals` table."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, approval: Approval) -> None:
        """Insert a new request."""
        self._conn.execute(approvals.insert().values(
            id=approval.approval_id, **{name: getattr(approval, name) for name in _FIELDS}))

    def get(self, approval_id: str) -> Approval | None:
        """A request by id."""
        row = self._conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)).mappings().first()
        return _approval(row) if row else None

    def pending(self, account_id: str, now: datetime) -> list[Approval]:
        """Pending, unexpired requests of the customer, newest first."""
        query = (sa.select(approvals)
                 .where(approvals.c.account_id == account_id, approvals.c.status == "pending",
                        approvals.c.expires_at > now)
                 .order_by(approvals.c.created_at.desc(), approvals.c.id.desc()))
        return [_approval(row) for row in self._conn.execute(query).mappings()]

    def created_since(self, account_id: str, since: datetime) -> list[datetime]:
        """Creation times after `since`, oldest first (through the (account_id, created_at) index)."""
        query = (sa.select(approvals.c.created_at)
                 .where(approvals.c.account_id == account_id, approvals.c.created_at > since)
                 .order_by(approvals.c.created_at))
        return list(self._conn.execute(query).scalars())

    def supersede_pending(self, account_id: str, now: datetime) -> list[str]:
        """Retire the pending, unexpired requests (expired ones stay `expired`)."""
        where = (approvals.c.account_id == account_id, approvals.c.status == "pending", approvals.c.expires_at > now)
        ids = list(self._conn.execute(sa.select(approvals.c.id).where(*where).order_by(approvals.c.id)).scalars())
        if ids:
            self._conn.execute(approvals.update().where(approvals.c.id.in_(ids), *where)
                               .values(status="superseded"))
        return ids

    def transition(self, approval_id: str, source: str, target: str, now: datetime) -> bool:
        """One guarded UPDATE: of two racing changes (two checks using one approval), one wins."""
        result = self._conn.execute(approvals.update().where(
            approvals.c.id == approval_id, approvals.c.status == source, approvals.c.expires_at > now)
            .values(status=target, **transition_stamps(target, now)))
        return result.rowcount == 1
