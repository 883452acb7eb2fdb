"""The audit archive's database side: the run's claim, the segments recorded, each chain's cut, batched deletes."""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Result, RowMapping

from verify_service.adapters.pacing import Paced
from verify_service.adapters.sql.audit import STREAM_ROWS, event_from_row
from verify_service.adapters.sql.database import SqlDatabase
from verify_service.adapters.sql.tables import audit_anchors, audit_cuts, audit_events, audit_segments
from verify_service.domain.model import ChainCut, ChainedEvent, SegmentRecord

CLAIM = "archive"  # the audit_anchors row whose holder (tag) may archive until last_at
UPSERT_ROWS = 1000
_CLAIM_ROW = sa.select(audit_anchors.c.last_at, audit_anchors.c.tag).where(audit_anchors.c.name == CLAIM)


def _chain_order(dialect: str, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """Chains in code point order, as Python compares them (SQLite's default; PostgreSQL's "C" collation)."""
    return column.collate("C") if dialect == "postgresql" else column


def _cut_of(row: RowMapping) -> ChainCut | None:
    """The cut joined to an event row (None: nothing of its chain archived yet)."""
    if row["cut_seq"] is None:
        return None
    return ChainCut(row["chain"], row["cut_seq"], row["cut_hash"], row["cut_key_id"], row["cut_tag"])


class _Snapshot:
    """What one segment holds, read in one consistent snapshot."""

    def __init__(self, conn: Connection, dialect: str, cut_id: int):
        self._conn, self._dialect, self.cut_id = conn, dialect, cut_id
        self._results: list[Result[Any]] = []

    def _stream(self, select: sa.Select[Any]) -> Result[Any]:
        """A streamed result (a server-side cursor on PostgreSQL), closed with the snapshot at the latest."""
        result = self._conn.execution_options(yield_per=STREAM_ROWS).execute(select)
        self._results.append(result)
        return result

    def close(self) -> None:
        """Close every cursor still open (a reader that stopped early) before the transaction ends."""
        for result in self._results:
            result.close()

    def events(self) -> Iterator[tuple[ChainedEvent, ChainCut | None]]:
        """Events up to cut_id past their chain's cut, chain by chain, streamed."""
        select = (sa.select(audit_events, audit_cuts.c.seq.label("cut_seq"), audit_cuts.c.hash.label("cut_hash"),
                            audit_cuts.c.key_id.label("cut_key_id"), audit_cuts.c.tag.label("cut_tag"))
                  .outerjoin(audit_cuts, audit_cuts.c.chain == audit_events.c.chain)
                  .where(audit_events.c.id <= self.cut_id,
                         sa.or_(audit_cuts.c.seq.is_(None), audit_events.c.seq > audit_cuts.c.seq))
                  .order_by(_chain_order(self._dialect, audit_events.c.chain), audit_events.c.seq))
        for row in self._stream(select).mappings():
            yield event_from_row(row), _cut_of(row)

    def cuts(self) -> Iterator[ChainCut]:
        """Every chain's cut so far, by chain, streamed."""
        select = sa.select(audit_cuts).order_by(_chain_order(self._dialect, audit_cuts.c.chain))
        for row in self._stream(select):
            yield ChainCut(row.chain, row.seq, row.hash, row.key_id, row.tag)


def _cut_id(conn: Connection, cutoff: datetime) -> int:
    """The newest event id a cut at `cutoff` takes: the events before the first one written at or after it.

    Ids rise along every chain, so this cuts each chain at one point (an event a skewed clock dated after the
    cutoff but that came before it is archived with it).
    """
    first = conn.execute(sa.select(audit_events.c.id).where(audit_events.c.at >= cutoff)
                         .order_by(audit_events.c.at, audit_events.c.id).limit(1)).scalar()
    if first is not None:
        return int(first) - 1
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(audit_events.c.id), 0))).scalar_one())


class SqlArchiveLedger:
    """The archive's database side on SQLite or PostgreSQL; each method is its own transaction."""

    def __init__(self, db: SqlDatabase):
        self._db = db

    def claim(self, now: datetime, until: datetime) -> str | None:
        """Take the archive turn unless another run holds it and its lease has not run out."""
        with self._db.transaction(write=True) as conn:
            conn.execute(self._db.insert_ignore(audit_anchors, name=CLAIM, last_at=None))
            row = conn.execute(_CLAIM_ROW.with_for_update()).one()
            if row.tag is not None and row.last_at is not None and row.last_at > now:
                return None
            token = secrets.token_hex(16)
            conn.execute(audit_anchors.update().where(audit_anchors.c.name == CLAIM).values(last_at=until, tag=token))
            conn.commit()
            return token

    def renew(self, token: str, until: datetime) -> bool:
        """Extend the lease; False if another run took the turn."""
        with self._db.transaction(write=True) as conn:
            moved = conn.execute(audit_anchors.update().where(audit_anchors.c.name == CLAIM,
                                                              audit_anchors.c.tag == token).values(last_at=until))
            conn.commit()
            return moved.rowcount == 1

    def release(self, token: str) -> None:
        """Free the turn (if still held)."""
        with self._db.transaction(write=True) as conn:
            conn.execute(audit_anchors.update().where(audit_anchors.c.name == CLAIM, audit_anchors.c.tag == token)
                         .values(last_at=None, tag=None))
            conn.commit()

    def newest_segment(self) -> SegmentRecord | None:
        """The newest segment recorded."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(sa.select(audit_segments).order_by(audit_segments.c.number.desc()).limit(1)).first()
        if row is None:
            return None
        return SegmentRecord(number=row.number, cut_at=row.cut_at, cut_id=row.cut_id, events=row.events,
                             signature=row.signature)

    def oldest_event(self) -> datetime | None:
        """When the oldest event in the database was written."""
        with self._db.transaction(write=False) as conn:
            oldest: datetime | None = conn.execute(sa.select(sa.func.min(audit_events.c.at))).scalar()
        return oldest

    def count_through(self, cutoff: datetime) -> int:
        """Events an archive up to `cutoff` would remove (archived ones not deleted yet included)."""
        with self._db.transaction(write=False, snapshot=True) as conn:
            cut_id = _cut_id(conn, cutoff)
            return int(conn.execute(sa.select(sa.func.count()).where(audit_events.c.id <= cut_id)).scalar_one())

    @contextlib.contextmanager
    def snapshot(self, cutoff: datetime) -> Iterator[_Snapshot]:
        """A consistent read of what a segment cut at `cutoff` holds."""
        with self._db.transaction(write=False, snapshot=True) as conn:
            snapshot = _Snapshot(conn, self._db.dialect, _cut_id(conn, cutoff))
            try:
                yield snapshot
            finally:
                snapshot.close()

    def record(self, segment: SegmentRecord, cuts: Iterable[ChainCut], token: str, now: datetime) -> bool:
        """Record the segment and move its chains' cuts in one transaction, if the turn is still ours."""
        with self._db.transaction(write=True) as conn:
            held = conn.execute(_CLAIM_ROW.where(audit_anchors.c.tag == token).with_for_update()).first()
            if held is None:
                return False
            conn.execute(audit_segments.insert().values(
                number=segment.number, cut_at=segment.cut_at, cut_id=segment.cut_id, events=segment.events,
                signature=segment.signature, written_at=now))
            for chunk in _chunks(cuts):
                conn.execute(self._upsert_cuts(), [vars(cut) for cut in chunk])
            conn.commit()
            return True

    def _upsert_cuts(self) -> Any:
        """INSERT a cut, or move the chain's existing one."""
        insert = (postgresql if self._db.dialect == "postgresql" else sqlite).insert(audit_cuts)
        return insert.on_conflict_do_update(index_elements=["chain"], set_={
            name: insert.excluded[name] for name in ("seq", "hash", "key_id", "tag")})

    def delete_archived(self, batch: int) -> int:
        """Delete archived events (at or before their chain's cut) by id windows of `batch`, one commit each."""
        with self._db.transaction(write=False) as conn:
            low = conn.execute(sa.select(sa.func.min(audit_events.c.id))).scalar()
            top = conn.execute(sa.select(sa.func.max(audit_segments.c.cut_id))).scalar()
        if low is None or top is None:
            return 0
        cut_seq = sa.select(audit_cuts.c.seq).where(audit_cuts.c.chain == audit_events.c.chain).scalar_subquery()
        removed, low = 0, int(low) - 1
        pace = Paced()  # a pause after each batch as long as it took (adapters/pacing.py)
        while low < top:
            high = min(low + batch, int(top))
            with pace(), self._db.transaction(write=True) as conn:
                removed += conn.execute(audit_events.delete().where(
                    audit_events.c.id > low, audit_events.c.id <= high, audit_events.c.seq <= cut_seq)).rowcount
                conn.commit()
            low = high
        return removed

    def cuts(self) -> Iterator[ChainCut]:
        """Every chain's cut, by chain, streamed."""
        with self._db.transaction(write=False, snapshot=True) as conn:
            snapshot = _Snapshot(conn, self._db.dialect, 0)
            try:
                yield from snapshot.cuts()
            finally:
                snapshot.close()


def _chunks(cuts: Iterable[ChainCut]) -> Iterator[tuple[ChainCut, ...]]:
    """Cuts in chunks of UPSERT_ROWS (itertools.batched is Python 3.12)."""
    iterator = iter(cuts)
    while chunk := tuple(itertools.islice(iterator, UPSERT_ROWS)):
        yield chunk
