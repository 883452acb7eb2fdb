"""The audit trail in SQL: events plus one head row per chain.

Appending locks only its own chain's head row, so checks for different
customers never wait on each other (SQLite serialises writers anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.tables import audit_events, audit_heads
from verify_service.domain.audit import GENESIS_HASH, chain_input, chain_of
from verify_service.domain.model import AuditEvent, AuditQuery, ChainedEvent
from verify_service.domain.ports import ChainSigner

if TYPE_CHECKING:
    from verify_service.adapters.sql.database import SqlDatabase

_EVENT_FIELDS = ("event", "at", "account_id", "actor", "agent_id", "channel", "ticket_ref", "ip", "details")
# Statements built once: building them per call costs more than the round trip (hot path of every check).
_HEAD = sa.select(audit_heads.c.seq, audit_heads.c.hash).where(audit_heads.c.chain == sa.bindparam("c"))
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_MOVE_HEAD = audit_heads.update().where(audit_heads.c.chain == sa.bindparam("c")).values(
    seq=sa.bindparam("s"), hash=sa.bindparam("h"))
_INSERT_EVENT = audit_events.insert()


def _from_row(row: RowMapping) -> ChainedEvent:
    """Map an audit_events row."""
    event = AuditEvent(**{name: row[name] for name in _EVENT_FIELDS})
    return ChainedEvent(id=row["id"], event=event, chain=row["chain"], seq=row["seq"],
                        prev_hash=row["prev_hash"], hash=row["hash"], key_id=row["key_id"])


class SqlAuditLog:
    """Appends chained events in the caller's transaction and reads them back."""

    def __init__(self, conn: Connection, db: SqlDatabase, signer: ChainSigner):
        self._conn, self._db, self._signer = conn, db, signer

    def _lock_head(self, chain: str) -> tuple[int, str]:
        """The chain's head, locked for this transaction (created on first use)."""
        row = self._conn.execute(_HEAD_FOR_UPDATE, {"c": chain}).first()
        if row is None:
            self._conn.execute(self._db.insert_ignore(audit_heads, chain=chain, seq=0, hash=GENESIS_HASH))
            row = self._conn.execute(_HEAD_FOR_UPDATE, {"c": chain}).first()
        assert row is not None
        return row[0], row[1]

    def append(self, event: AuditEvent) -> ChainedEvent:
        """Chain the event after its chain's head and store it."""
        chain = chain_of(event)
        seq, prev_hash = self._lock_head(chain)
        seq += 1
        key_id = self._signer.newest_key_id()
        digest = self._signer.sign(key_id, chain_input(prev_hash, chain, seq, event))
        assert digest is not None
        self._conn.execute(_MOVE_HEAD, {"c": chain, "s": seq, "h": digest})
        values = {name: getattr(event, name) for name in _EVENT_FIELDS}
        event_id = self._conn.execute(_INSERT_EVENT, {"chain": chain, "seq": seq, "prev_hash": prev_hash,
                                                      "hash": digest, "key_id": key_id, **values}).inserted_primary_key
        assert event_id is not None
        return ChainedEvent(id=int(event_id[0]), event=event, chain=chain, seq=seq, prev_hash=prev_hash, hash=digest,
                            key_id=key_id)

    def query(self, query: AuditQuery) -> list[ChainedEvent]:
        """Filtered events, newest first, `limit` of them after the cursor."""
        table = audit_events
        conditions = []
        if query.account_id is not None:
            conditions.append(table.c.account_id == query.account_id)
        if query.event is not None:
            conditions.append(table.c.event == query.event)
        if query.since is not None:
            conditions.append(table.c.at >= query.since)
        if query.until is not None:
            conditions.append(table.c.at < query.until)
        if query.before_id is not None:
            conditions.append(table.c.id < query.before_id)
        select = sa.select(table).where(*conditions).order_by(table.c.id.desc()).limit(query.limit)
        return [_from_row(row) for row in self._conn.execute(select).mappings()]

    def walk(self) -> Iterator[ChainedEvent]:
        """Every event, chain by chain, in sequence order."""
        select = sa.select(audit_events).order_by(audit_events.c.chain, audit_events.c.seq)
        for row in self._conn.execution_options(yield_per=1000).execute(select).mappings():
            yield _from_row(row)

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every chain's head (chains created but still empty are left out)."""
        rows = self._conn.execute(sa.select(audit_heads).where(audit_heads.c.seq > 0))
        return {row.chain: (row.seq, row.hash) for row in rows}
