"""What the audit archive needs from storage: the database's side (a ledger) and the segment files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from verify_service.domain.model import ChainCut, ChainedEvent, SegmentRecord


class ArchiveSnapshot(Protocol):
    """One consistent read of what a segment cut at `cut_id` holds."""

    cut_id: int

    def events(self) -> Iterator[tuple[ChainedEvent, ChainCut | None]]:
        """Events with an id up to cut_id not archived yet, each with its chain's cut; by chain (code point order)
        then seq, streamed."""
        ...

    def cuts(self) -> Iterator[ChainCut]:
        """Every chain's cut so far, by chain in code point order, streamed."""
        ...


class ArchiveLedger(Protocol):
    """The database's side of the archive; each method is its own transaction."""

    def claim(self, now: datetime, until: datetime) -> str | None:
        """Take the archive turn until `until` unless another run holds it: a token, or None."""
        ...

    def renew(self, token: str, until: datetime) -> bool:
        """Keep the turn longer; False if it was lost (expired and taken by another run)."""
        ...

    def release(self, token: str) -> None:
        """Give the turn back."""
        ...

    def newest_segment(self) -> SegmentRecord | None:
        """The newest segment recorded as written (None before the first)."""
        ...

    def oldest_event(self) -> datetime | None:
        """When the oldest event still in the database was written (None: none)."""
        ...

    def count_through(self, cutoff: datetime) -> int:
        """How many events an archive up to `cutoff` would remove from the database."""
        ...

    def snapshot(self, cutoff: datetime) -> AbstractContextManager[ArchiveSnapshot]:
        """A consistent read of the events before `cutoff` that are not archived yet."""
        ...

    def record(self, segment: SegmentRecord, cuts: Iterable[ChainCut], token: str, now: datetime) -> bool:
        """Record a written segment and move its chains' cuts, in one transaction; False if the turn was lost."""
        ...

    def delete_archived(self, batch: int) -> int:
        """Delete archived events in batches of at most `batch` rows, each its own transaction: how many."""
        ...

    def cuts(self) -> Iterator[ChainCut]:
        """Every chain's cut, by chain in code point order, streamed."""
        ...


class SegmentWriter(Protocol):
    """A segment being written: invisible until committed."""

    def add(self, line: bytes) -> None:
        """Append one line."""
        ...

    def commit(self) -> None:
        """Make the segment durable under its final name (file and folder fsynced)."""
        ...

    def abort(self) -> None:
        """Throw the unfinished segment away."""
        ...


class Scratch(Protocol):
    """Lines kept aside on disk while a segment is written (so memory does not grow with the chains)."""

    def add(self, line: bytes) -> None:
        """Append one line."""
        ...

    def lines(self) -> Iterator[bytes]:
        """Every line added, in order."""
        ...

    def close(self) -> None:
        """Remove it."""
        ...


class SegmentStore(Protocol):
    """The folder of archive segments."""

    def lock(self) -> AbstractContextManager[bool]:
        """Hold the folder's exclusive lock while inside (False: another process holds it)."""
        ...

    def create(self, number: int, cut: datetime) -> SegmentWriter:
        """Start writing segment `number` (replacing an unrecorded leftover of a stopped run)."""
        ...

    def scratch(self) -> Scratch:
        """A new scratch file."""
        ...

    def numbers(self) -> list[int]:
        """The numbers of the segments present, in order (a number twice if two files claim it)."""
        ...

    def lines(self, number: int) -> Iterator[bytes]:
        """The lines of segment `number`, streamed."""
        ...

    def last_line(self, number: int) -> bytes:
        """The last line of segment `number` (its checkpoint)."""
        ...
