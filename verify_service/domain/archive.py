"""Audit archive: old events move to signed segment files, then leave the database, and every chain still verifies.

A segment is JSON lines: a header, its events chain by chain (chains in code point order, events in seq order),
one line per chain with every chain's head at the cut (the checkpoint, cumulative), and a signed trailer that
covers the digests of both parts and the previous segment's signature. The database keeps each chain's cut
(MAC'd), so `audit verify` checks the database's part of a chain from where the archive left it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from verify_service.domain.archive_check import ArchiveReport, check_archive
from verify_service.domain.archive_format import (
    SEGMENT_FORMAT,
    Head,
    dumps,
    event_record,
    newest_heads,
    periods,
    sign_checkpoint,
)
from verify_service.domain.archive_ports import ArchiveLedger, ArchiveSnapshot, Scratch, SegmentStore, SegmentWriter
from verify_service.domain.audit import ChainCursor, ChainReport, follow, sign_cut
from verify_service.domain.model import ChainCut, ChainedEvent, SegmentRecord, rfc3339
from verify_service.domain.ports import ChainSigner, Clock
from verify_service.errors import ConfigError, Conflict, ValidationFailed

LEASE = timedelta(minutes=15)  # a stopped run's turn is free again after this; a live run renews it

class AuditArchiver:
    """The audit events' retention sweep: archive every event before the cutoff, then delete it in batches."""

    kind = "audit_events"

    def __init__(self, *, ledger: ArchiveLedger, store: SegmentStore | None, signer: ChainSigner, clock: Clock):
        self._ledger, self._store, self._signer, self._clock = ledger, store, signer, clock

    @property
    def enabled(self) -> bool:
        """True when an archive folder is set (without one, audit events are never deleted)."""
        return self._store is not None

    def check(self, store: SegmentStore) -> ArchiveReport:
        """Verify the segments in `store` offline, end to end, and that the database's cuts are the newest's."""
        return check_archive(store, self._ledger, self._signer)

    def run(self, cutoff: datetime, *, dry_run: bool, batch: int) -> int:
        """Archive and delete events before the cutoff: how many left the database (or would, with dry_run)."""
        if self._store is None:
            raise ConfigError("VERIFY_AUDIT_ARCHIVE_DIR is not set: audit events are only deleted once archived")
        if cutoff > self._clock.now():
            raise ValidationFailed("The archive cutoff is in the future.")
        if dry_run:
            return self._ledger.count_through(cutoff)
        with self._store.lock() as held:
            token = self._ledger.claim(self._clock.now(), self._clock.now() + LEASE) if held else None
            if token is None:
                raise Conflict("Another audit archive run is in progress.")
            try:
                oldest = self._ledger.oldest_event()
                for cut in periods(oldest, cutoff) if oldest is not None and oldest < cutoff else []:
                    self._segment(self._store, cut, token)
                return self._ledger.delete_archived(batch)
            finally:
                self._ledger.release(token)

    def _segment(self, store: SegmentStore, cut: datetime, token: str) -> None:
        """Write, fsync and record one segment (nothing when no event is left before the cut)."""
        newest = self._ledger.newest_segment()
        number = newest.number + 1 if newest else 1
        moved = store.scratch()
        try:
            with self._ledger.snapshot(cut) as snapshot:
                writer = store.create(number, cut)
                try:
                    trailer = self._write(writer, moved, snapshot, (number, cut), newest)
                    if trailer is None:
                        writer.abort()
                        return
                    if not self._ledger.renew(token, self._clock.now() + LEASE):
                        raise Conflict("The audit archive turn was lost to another run; nothing was recorded.")
                    writer.commit()
                except BaseException:
                    writer.abort()
                    raise
            record = SegmentRecord(number=number, cut_at=cut, cut_id=snapshot.cut_id,
                                   events=trailer["checkpoint"]["events"], signature=trailer["signature"])
            cuts = (sign_cut(self._signer, *_head(line)) for line in moved.lines())
            if not self._ledger.record(record, cuts, token, self._clock.now()):
                raise Conflict("The audit archive turn was lost to another run; nothing was recorded.")
        finally:
            moved.close()

    def _write(self, writer: SegmentWriter, moved: Scratch, snapshot: ArchiveSnapshot, place: tuple[int, datetime],
               previous: SegmentRecord | None) -> dict[str, Any] | None:
        """The segment's lines; the chains that moved go to `moved`. The trailer, or None with no event."""
        number = place[0]
        header = {"segment": number, "format": SEGMENT_FORMAT, "cut": rfc3339(place[1]), "cut_id": snapshot.cut_id}
        body, heads, report = hashlib.sha256(), hashlib.sha256(), ChainReport()
        for line in itertools.chain([dumps(header)], self._events(snapshot.events(), moved, report)):
            body.update(line)
            writer.add(line)
        events = report.events
        if not events:
            return None
        chains = 0
        old = ((cut.chain, cut.seq, cut.hash) for cut in snapshot.cuts())
        for head in newest_heads(old, (_head(line) for line in moved.lines())):
            line = dumps({"head": list(head)})
            heads.update(line)
            writer.add(line)
            chains += 1
        checkpoint = {**header, "events": events,
                      "chains": chains, "events_sha256": body.hexdigest(), "heads_sha256": heads.hexdigest(),
                      "previous": previous.signature if previous else None}
        trailer = sign_checkpoint(self._signer, checkpoint)
        writer.add(dumps(trailer))
        return trailer

    def _events(self, rows: Iterator[tuple[ChainedEvent, ChainCut | None]], moved: Scratch,
                report: ChainReport) -> Iterator[bytes]:
        """The event lines, each chain checked link by link from its cut; each chain's new head goes to `moved`."""
        for chain, group in itertools.groupby(rows, key=lambda row: row[0].chain):
            cursor: ChainCursor | None = None
            for item, cut in group:
                cursor = cursor or (ChainCursor(seq=cut.seq, hash=cut.hash) if cut else ChainCursor())
                follow(cursor, item, self._signer, report)
                if report.problems:
                    raise ValidationFailed(f"The audit trail is not intact ({report.problems[0]}); nothing was "
                                           "archived: run `audit verify`.")
                yield dumps(event_record(item))
            assert cursor is not None
            moved.add(dumps([chain, cursor.seq, cursor.hash]))


def _head(line: bytes) -> Head:
    """A moved head kept in the scratch file."""
    chain, seq, digest = json.loads(line)
    return str(chain), int(seq), str(digest)
