"""`audit verify --archive DIR`: every segment checked offline, end to end, in constant memory."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from verify_service.domain.archive_format import Head, event_from_record, newest_heads, open_checkpoint
from verify_service.domain.archive_ports import ArchiveLedger, SegmentStore
from verify_service.domain.audit import ChainCursor, ChainReport, follow
from verify_service.domain.model import ChainCut, ChainedEvent, SegmentRecord
from verify_service.domain.ports import ChainSigner
from verify_service.errors import ValidationFailed


@dataclass
class ArchiveReport:
    """What checking the segments found."""

    segments: int = 0
    chains: ChainReport = field(default_factory=ChainReport)
    warnings: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem found (an altered event, a missing segment, a bad checkpoint)."""
        return self.chains.problems


class _Parsed:
    """One segment's lines split into its parts as they stream by, each part hashed for its digest."""

    def __init__(self, lines: Iterator[bytes]):
        self._lines = lines
        self.body, self.heads = hashlib.sha256(), hashlib.sha256()
        self.header: dict[str, Any] = {}
        self.head_lines = 0
        self._stop: tuple[bytes, dict[str, Any]] | None = None

    def events(self) -> Iterator[ChainedEvent]:
        """The header, then the events; stops at the first head line (or the trailer)."""
        for line in self._lines:
            document = json.loads(line)
            if "head" in document or "checkpoint" in document:
                self._stop = (line, document)
                return
            self.body.update(line)
            if not self.header:
                self.header = document
            else:
                yield event_from_record(document)

    def head_rows(self) -> Iterator[Head]:
        """The checkpoint's heads (once events() ran out); the trailer ends them."""
        pending = [self._stop] if self._stop is not None else []
        self._stop = None
        for line, document in itertools.chain(pending, ((line, json.loads(line)) for line in self._lines)):
            if "checkpoint" in document:
                return
            self.heads.update(line)
            self.head_lines += 1
            yield _head_of(document)


def _head_of(document: dict[str, Any]) -> Head:
    """A checkpoint line's head."""
    chain, seq, digest = document["head"]
    return str(chain), int(seq), str(digest)


def _checkpoint_heads(store: SegmentStore, number: int) -> Iterator[Head]:
    """The heads of segment `number`'s checkpoint, streamed (nothing for segment 0)."""
    if number == 0:
        return
    for line in store.lines(number):
        if line.startswith(b'{"head":'):
            yield _head_of(json.loads(line))


def _moved_heads(store: SegmentStore, number: int) -> Iterator[Head]:
    """Each chain's last event in segment `number`, read again lazily (the main pass checks those events)."""
    events = (json.loads(line) for line in store.lines(number) if line.startswith(b'{"account_id":'))
    for chain, group in itertools.groupby(events, key=lambda record: record["chain"]):
        *_, last = group
        yield str(chain), int(last["seq"]), str(last["hash"])


class _Lookup:
    """A chain's previous head, for chains asked in rising order (a merge walk: constant memory)."""

    def __init__(self, heads: Iterator[Head]):
        self._heads, self._next = heads, next(heads, None)

    def get(self, chain: str) -> Head | None:
        """The head of `chain`, or None if it had none."""
        while self._next is not None and self._next[0] < chain:
            self._next = next(self._heads, None)
        return self._next if self._next is not None and self._next[0] == chain else None


def verify_segment(store: SegmentStore, signer: ChainSigner, number: int, previous: str | None,
                   report: ChainReport) -> str:
    """Check one segment against the one before it: its signature (ValidationFailed: unsigned or unreadable)."""
    trailer = json.loads(store.last_line(number))
    checkpoint = open_checkpoint(signer, trailer)
    if checkpoint.get("segment") != number or checkpoint.get("previous") != previous:
        report.problems.append(f"segment {number}: does not follow segment {number - 1} (one is missing or "
                               "replaced)")
    parsed, lookup = _Parsed(store.lines(number)), _Lookup(_checkpoint_heads(store, number - 1))
    before, last_chain = report.events, ""
    for chain, group in itertools.groupby(parsed.events(), key=lambda item: item.chain):
        if chain <= last_chain:
            report.problems.append(f"segment {number}: chain {chain} is out of order")
        last_chain = chain
        old = lookup.get(chain)
        cursor = ChainCursor(seq=old[1], hash=old[2]) if old else ChainCursor()
        for item in group:
            follow(cursor, item, signer, report)
    expected = newest_heads(_checkpoint_heads(store, number - 1), _moved_heads(store, number))
    _check_heads(number, parsed, checkpoint, expected, report)
    if parsed.header.get("segment") != number or checkpoint.get("events") != report.events - before:
        report.problems.append(f"segment {number}: its header or event count does not match its checkpoint")
    if parsed.body.hexdigest() != checkpoint.get("events_sha256"):
        report.problems.append(f"segment {number}: its events differ from what its checkpoint signed")
    return str(trailer["signature"])


def _check_heads(number: int, parsed: _Parsed, checkpoint: dict[str, Any], expected: Iterator[Head],
                 report: ChainReport) -> None:
    """The written heads are what the previous checkpoint and this segment's events give, and were signed."""
    written = parsed.head_rows()
    for want, got in itertools.zip_longest(expected, written):
        if want != got:
            chain = (got or want or ("?",))[0]
            report.problems.append(f"segment {number}: its checkpoint's head of chain {chain} does not follow "
                                   "from the events")
            break
    for _ in written:
        pass  # the rest still counts towards the digest
    if parsed.heads.hexdigest() != checkpoint.get("heads_sha256") or parsed.head_lines != checkpoint.get("chains"):
        report.problems.append(f"segment {number}: its checkpoint's heads differ from what was signed")


def verify_archive(store: SegmentStore, signer: ChainSigner, recorded: SegmentRecord | None) -> ArchiveReport:
    """Check every segment in order, then that the newest the database recorded is there, unchanged."""
    report = ArchiveReport()
    previous: str | None = None
    signatures: list[str] = []  # one per segment: small
    for expected, number in zip(itertools.count(1), store.numbers(), strict=False):
        if number != expected:
            report.problems.append(f"segment {expected} is missing (found segment {number} next)")
            break
        try:
            previous = verify_segment(store, signer, number, previous, report.chains)
        except (ValidationFailed, ValueError, KeyError, TypeError, IndexError) as error:
            detail = error.message if isinstance(error, ValidationFailed) else "a line is not what a segment holds"
            report.problems.append(f"segment {number}: {detail}")
            break
        signatures.append(previous)
        report.segments += 1
    _compare_with_record(report, recorded, signatures)
    return report


def _compare_with_record(report: ArchiveReport, recorded: SegmentRecord | None, signatures: list[str]) -> None:
    """The newest segment the database recorded as written must be there, as recorded."""
    number = recorded.number if recorded is not None else 0
    if len(signatures) < number:
        report.problems.append(f"segment {number} is missing: the database recorded it as written")
    elif recorded is not None and signatures[number - 1] != recorded.signature:
        report.problems.append(f"segment {number}: differs from the one the database recorded")
    if len(signatures) > number:
        report.warnings.append(f"segment(s) after {number} are not recorded in the database: a run stopped before "
                               "recording them (the next run writes them again)")


def cuts_match(cuts: Iterator[ChainCut], heads: Iterator[Head]) -> str | None:
    """Whether the database's cuts are the newest checkpoint's heads: the first difference, or None."""
    for cut, head in itertools.zip_longest(cuts, heads):
        have = (cut.chain, cut.seq, cut.hash) if cut is not None else None
        if have != head:
            chain = (cut.chain if cut is not None else None) or (head[0] if head else "?")
            return f"chain {chain}: the database's archive cut is not the newest checkpoint's head"
    return None


def check_archive(store: SegmentStore, ledger: ArchiveLedger, signer: ChainSigner) -> ArchiveReport:
    """Every segment offline, then that the database's cuts are the heads of the newest recorded checkpoint."""
    recorded = ledger.newest_segment()
    report = verify_archive(store, signer, recorded)
    if recorded is not None and not report.problems:
        mismatch = cuts_match(ledger.cuts(), _checkpoint_heads(store, recorded.number))
        if mismatch:
            report.problems.append(mismatch)
    return report
