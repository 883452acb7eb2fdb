"""The audit trail in SQL: events plus one head row per chain.

Appending locks only its own chain's head row, so checks for different
customers never wait on each other (SQLite serialises writers anyway).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.tables import audit_anchors, audit_cuts, audit_events, audit_heads
from verify_service.domain.audit import CHAIN_FORMAT, GENESIS_HASH, anchor_due, chain_input, chain_of
from verify_service.domain.model import AnchorReceipt, AuditEvent, AuditQuery, ChainCut, ChainedEvent, ChainState
from verify_service.domain.ports import ChainSigner

if TYPE_CHECKING:
    from verify_service.adapters.sql.database import SqlDatabase

EVENT_FIELDS = ("event", "at", "account_id", "actor", "agent_id", "channel", "ticket_ref", "ip", "details")
# Statements built once: building them per call costs more than the round trip (hot path of every check).
# The head, locked, with the id the next event will have: the id is taken only once the lock is held (so ids
# rise along every chain) and goes into the event's HMAC. PostgreSQL evaluates a select list before FOR UPDATE
# locks the row, hence the materialised CTE; SQLite's writers are serialised by BEGIN IMMEDIATE already.
_HEAD_AND_NEXT_ID: dict[str, sa.Executable] = {
    "postgresql": sa.text("WITH h AS MATERIALIZED (SELECT seq, hash FROM audit_heads WHERE chain = :c FOR UPDATE) "
                          "SELECT seq, hash, nextval('audit_events_id_seq') FROM h"),
    "sqlite": sa.select(audit_heads.c.seq, audit_heads.c.hash,
                        sa.select(sa.func.coalesce(sa.func.max(audit_events.c.id), 0) + 1).scalar_subquery())
    .where(audit_heads.c.chain == sa.bindparam("c")),
}
_MOVE_HEAD = audit_heads.update().where(audit_heads.c.chain == sa.bindparam("c")).values(
    seq=sa.bindparam("s"), hash=sa.bindparam("h"))
_INSERT_EVENT = audit_events.insert()
_RECEIPT = "delivered"  # the audit_anchors row of the newest anchor the events webhook accepted
_ANCHOR_STATE = sa.select(audit_anchors.c.last_at).where(audit_anchors.c.name == "heads").with_for_update()


STREAM_ROWS = 2000  # rows fetched per round trip while streaming the trail
_JOINED = (audit_heads.c.seq.label("head_seq"), audit_heads.c.hash.label("head_hash"),
           audit_cuts.c.seq.label("cut_seq"), audit_cuts.c.hash.label("cut_hash"),
           audit_cuts.c.key_id.label("cut_key_id"), audit_cuts.c.tag.label("cut_tag"))
# Every event with its chain's head and cut, chain by chain: one pass, nothing kept between chains.
_CHAINS_WALK = (sa.select(audit_events, *_JOINED)
                .outerjoin(audit_heads, audit_heads.c.chain == audit_events.c.chain)
                .outerjoin(audit_cuts, audit_cuts.c.chain == audit_events.c.chain)
                .order_by(audit_events.c.chain, audit_events.c.seq))
# Chains with a head (or a cut) but no event left in the database: every event archived, or deleted.
_ARCHIVED_ONLY = (sa.select(audit_heads.c.chain, *_JOINED)
                  .outerjoin(audit_cuts, audit_cuts.c.chain == audit_heads.c.chain)
                  .where(audit_heads.c.seq > 0,
                         ~sa.exists().where(audit_events.c.chain == audit_heads.c.chain)))


def _head_of(row: RowMapping) -> tuple[int, str] | None:
    """The chain head joined to a row (None: the chain has no head)."""
    return None if row["head_seq"] is None else (row["head_seq"], row["head_hash"])


def _cut_of(row: RowMapping) -> ChainCut | None:
    """The archive cut joined to a row (None: nothing of the chain was archived)."""
    if row["cut_seq"] is None:
        return None
    return ChainCut(chain=row["chain"], seq=row["cut_seq"], hash=row["cut_hash"], key_id=row["cut_key_id"],
                    tag=row["cut_tag"])


def event_from_row(row: RowMapping) -> ChainedEvent:
    """Map an audit_events row."""
    event = AuditEvent(**{name: row[name] for name in EVENT_FIELDS})
    return ChainedEvent(id=row["id"], event=event, chain=row["chain"], seq=row["seq"],
                        prev_hash=row["prev_hash"], hash=row["hash"], key_id=row["key_id"],
                        chain_format=row["chain_format"])


class SqlAuditLog:
    """Appends chained events in the caller's transaction and reads them back."""

    def __init__(self, conn: Connection, db: SqlDatabase, signer: ChainSigner):
        self._conn, self._db, self._signer = conn, db, signer

    def _lock_head(self, chain: str) -> tuple[int, str, int]:
        """The chain's head, locked for this transaction (created on first use), and the next event id."""
        statement = _HEAD_AND_NEXT_ID[self._db.dialect]
        row = self._conn.execute(statement, {"c": chain}).first()
        if row is None:
            self._conn.execute(self._db.insert_ignore(audit_heads, chain=chain, seq=0, hash=GENESIS_HASH))
            row = self._conn.execute(statement, {"c": chain}).first()
        assert row is not None
        return row[0], row[1], int(row[2])

    def append(self, event: AuditEvent) -> ChainedEvent:
        """Chain the event, its id included, after its chain's head and store it."""
        chain = chain_of(event)
        seq, prev_hash, event_id = self._lock_head(chain)
        seq += 1
        key_id = self._signer.newest_key_id()
        digest = self._signer.sign(key_id, chain_input(prev_hash, chain, seq, event, event_id))
        assert digest is not None
        self._conn.execute(_MOVE_HEAD, {"c": chain, "s": seq, "h": digest})
        values = {name: getattr(event, name) for name in EVENT_FIELDS}
        self._conn.execute(_INSERT_EVENT, {"id": event_id, "chain": chain, "seq": seq, "prev_hash": prev_hash,
                                           "hash": digest, "key_id": key_id, "chain_format": CHAIN_FORMAT, **values})
        return ChainedEvent(id=event_id, event=event, chain=chain, seq=seq, prev_hash=prev_hash, hash=digest,
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
        return [event_from_row(row) for row in self._conn.execute(select).mappings()]

    def chains(self) -> Iterator[ChainState]:
        """Every chain with its head and cut, events in seq order; streamed (a server-side cursor on PostgreSQL)."""
        with self._conn.execution_options(yield_per=STREAM_ROWS).execute(_CHAINS_WALK) as result:
            for chain, group in itertools.groupby(result.mappings(), key=lambda row: row["chain"]):
                first = next(group)
                events = (event_from_row(row) for row in itertools.chain((first,), group))
                yield ChainState(chain, _head_of(first), _cut_of(first), events)
        with self._conn.execution_options(yield_per=STREAM_ROWS).execute(_ARCHIVED_ONLY) as result:
            for row in result.mappings():
                yield ChainState(row["chain"], _head_of(row), _cut_of(row), iter(()))

    def heads(self, since: datetime | None = None) -> dict[str, tuple[int, str]]:
        """Every chain's head (chains created but still empty are left out); with `since`, only the heads of
        chains that have an event at or after it."""
        select = sa.select(audit_heads).where(audit_heads.c.seq > 0)
        if since is not None:
            moved = sa.select(audit_events.c.chain).where(audit_events.c.at >= since).distinct()
            select = select.where(audit_heads.c.chain.in_(moved))
        return {row.chain: (row.seq, row.hash) for row in self._conn.execute(select)}

    def anchor_receipt(self) -> AnchorReceipt | None:
        """The newest delivered anchor's receipt (None before the first)."""
        row = self._conn.execute(sa.select(audit_anchors).where(audit_anchors.c.name == _RECEIPT)).first()
        if row is None or row.last_at is None or row.key_id is None or row.tag is None:
            return None
        return AnchorReceipt(at=row.last_at, key_id=row.key_id, tag=row.tag)

    def keep_anchor_receipt(self, receipt: AnchorReceipt) -> None:
        """Store a delivered anchor's receipt unless a newer one is kept."""
        self._conn.execute(self._db.insert_ignore(audit_anchors, name=_RECEIPT, last_at=None))
        newer = sa.or_(audit_anchors.c.last_at.is_(None), audit_anchors.c.last_at < receipt.at)
        self._conn.execute(audit_anchors.update().where(audit_anchors.c.name == _RECEIPT, newer)
                           .values(last_at=receipt.at, key_id=receipt.key_id, tag=receipt.tag))

    def claim_anchor(self, now: datetime, every: timedelta) -> tuple[bool, datetime | None]:
        """Take the next scheduled anchor if it is due: (taken, when the previous one was written)."""
        last = self._conn.execute(_ANCHOR_STATE).first()
        if last is None:
            self._conn.execute(self._db.insert_ignore(audit_anchors, name="heads", last_at=None))
            last = self._conn.execute(_ANCHOR_STATE).first()
        assert last is not None
        previous: datetime | None = last[0]
        if not anchor_due(previous, now, every):
            return False, previous
        self._conn.execute(audit_anchors.update().where(audit_anchors.c.name == "heads").values(last_at=now))
        return True, previous
