"""The audit trail's HMAC chain: one chain per customer, so customers never wait on each other."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from verify_service.domain.model import (
    AnchorReceipt,
    AuditEvent,
    AuditQuery,
    ChainCut,
    ChainedEvent,
    ChainState,
    rfc3339,
)
from verify_service.domain.ports import AnchorSink, ChainSigner, Clock, UnitOfWork, UnitOfWorkFactory
from verify_service.errors import ValidationFailed

GENESIS_HASH = "0" * 64
SYSTEM_CHAIN = "-"
# How a link's HMAC input is built. Events written before migration 0006 are format 1 and their id is not
# covered (they still verify, and their ids must still rise along the chain); every new event is format 2.
LEGACY_FORMAT = 1
CHAIN_FORMAT = 2
ANCHOR_EVENT = "audit_anchor"  # the events webhook's name for a scheduled anchor


def chain_of(event: AuditEvent) -> str:
    """The chain an event belongs to: its customer's, or the system chain."""
    return event.account_id or SYSTEM_CHAIN


def chain_input(prev_hash: str, chain: str, seq: int, event: AuditEvent, event_id: int | None = None) -> bytes:
    """What each link's HMAC covers: the previous hash and a canonical form of the event with its id.

    `event_id=None` builds the legacy (format 1) input, which did not cover the id.
    """
    body: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "at": event.at.isoformat(),
        "event": event.event,
        "account_id": event.account_id,
        "actor": event.actor,
        "agent_id": event.agent_id,
        "channel": event.channel,
        "ticket_ref": event.ticket_ref,
        "ip": event.ip,
        "details": event.details,
    }
    if event_id is not None:
        body["id"] = event_id
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (prev_hash + canonical).encode()


@dataclass
class ChainReport:
    """What `audit verify` found."""

    events: int = 0
    chains: int = 0
    legacy_events: int = 0  # written before event ids were chained (format 1)
    archived_chains: int = 0  # chains that continue from an archive cut
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No event altered, removed or reordered."""
        return not self.problems


@dataclass
class ChainCursor:
    """Where a walk along one chain stands: the last event's seq, hash and id."""

    seq: int = 0
    hash: str = GENESIS_HASH
    id: int = 0


def follow(cursor: ChainCursor, item: ChainedEvent, signer: ChainSigner, report: ChainReport) -> None:
    """Check one event against the one before it on its chain (seq, link, id order, HMAC), then step past it."""
    report.events += 1
    if item.seq != cursor.seq + 1:
        report.problems.append(f"chain {item.chain}: event #{cursor.seq + 1} is missing (found #{item.seq})")
    if item.prev_hash != cursor.hash:
        report.problems.append(f"chain {item.chain} #{item.seq}: prev_hash does not match")
    # Ids are taken under the chain's head lock, so they rise along every chain (legacy events too).
    if item.id <= cursor.id:
        report.problems.append(f"chain {item.chain} #{item.seq} (id {item.id}): ids are out of order")
    covered_id: int | None = item.id
    if item.chain_format == LEGACY_FORMAT:
        covered_id = None
        report.legacy_events += 1
    elif item.chain_format != CHAIN_FORMAT:
        report.problems.append(f"chain {item.chain} #{item.seq}: unknown chain format {item.chain_format}")
    expected = signer.sign(item.key_id, chain_input(item.prev_hash, item.chain, item.seq, item.event, covered_id))
    if expected is None:
        report.problems.append(f"chain {item.chain} #{item.seq}: key {item.key_id!r} is not in VERIFY_AUDIT_KEYS")
    elif not hmac.compare_digest(expected, item.hash):
        report.problems.append(f"chain {item.chain} #{item.seq} (id {item.id}): event was altered")
    cursor.seq, cursor.hash, cursor.id = item.seq, item.hash, item.id


def _cut_body(cut: ChainCut) -> bytes:
    """What a cut's MAC covers."""
    return f"audit-cut:{cut.chain}:{cut.seq}:{cut.hash}".encode()


def sign_cut(signer: ChainSigner, chain: str, seq: int, digest: str) -> ChainCut:
    """A chain's archive cut, MAC'd under the newest audit key."""
    key_id = signer.newest_key_id()
    unsigned = ChainCut(chain=chain, seq=seq, hash=digest)
    return replace(unsigned, key_id=key_id, tag=signer.sign(key_id, _cut_body(unsigned)) or "")


def cut_is_signed(signer: ChainSigner, cut: ChainCut) -> bool:
    """Whether the cut's MAC matches (a database writer cannot move a cut)."""
    expected = signer.sign(cut.key_id, _cut_body(cut))
    return expected is not None and hmac.compare_digest(expected, cut.tag)


def _start(state: ChainState, first: ChainedEvent | None) -> ChainCursor:
    """Where the database's part of a chain starts: genesis, or the archive cut it must follow.

    Events the archive holds but a stopped run did not delete yet (seq at or before the cut) start from their own
    prev_hash: they still chain up to the cut, which is checked as the walk passes it.
    """
    cut = state.cut
    if cut is None:
        return ChainCursor()
    if first is not None and first.seq <= cut.seq:
        return ChainCursor(seq=first.seq - 1, hash=first.prev_hash)
    return ChainCursor(seq=cut.seq, hash=cut.hash)


def verify_chain(state: ChainState, signer: ChainSigner, report: ChainReport,
                 anchored: dict[str, tuple[int, str]]) -> None:
    """Recompute one chain from its cut (or genesis) to its head; events arrive in seq order."""
    cut, cursor = state.cut, None
    report.archived_chains += cut is not None
    if cut is not None and not cut_is_signed(signer, cut):
        report.problems.append(f"chain {state.chain}: its archive checkpoint was altered (MAC does not match)")
    for item in state.events:
        cursor = cursor or _start(state, item)
        if anchored.get(item.chain, (None, None))[0] == item.seq and anchored.pop(item.chain)[1] != item.hash:
            report.problems.append(f"chain {item.chain} #{item.seq}: differs from the anchor")
        follow(cursor, item, signer, report)
        if cut is not None and item.seq == cut.seq and item.hash != cut.hash:
            report.problems.append(f"chain {item.chain} #{item.seq}: differs from its archive checkpoint")
    report.chains += cursor is not None  # chains with events in the database
    cursor = cursor or _start(state, None)
    _check_anchor_in_archive(state, anchored, report)
    if state.head is None:
        if cursor.seq:
            report.problems.append(f"chain {state.chain}: has no chain head")
    elif (cursor.seq, cursor.hash) != state.head:
        report.problems.append(f"chain {state.chain}: last event does not match the chain head (removed?)")


def _check_anchor_in_archive(state: ChainState, anchored: dict[str, tuple[int, str]], report: ChainReport) -> None:
    """An anchored event that was archived is covered by the signed cut (checked in full by `--archive`)."""
    cut, head = state.cut, anchored.get(state.chain)
    if cut is None or head is None or head[0] > cut.seq:
        return
    anchored.pop(state.chain)
    if head[0] == cut.seq and head[1] != cut.hash:
        report.problems.append(f"chain {state.chain} #{cut.seq}: its archive checkpoint differs from the anchor")


def verify_chains(chains: Iterable[ChainState], signer: ChainSigner,
                  anchor: dict[str, tuple[int, str]] | None = None) -> ChainReport:
    """Recompute every chain, one at a time (memory does not grow with the trail).

    With an anchor (heads exported earlier and kept outside the database), every anchored event must
    still be there, unchanged, or archived behind a signed cut: that catches a chain rolled back or deleted whole.
    """
    report = ChainReport()
    anchored = dict(anchor or {})
    for state in chains:
        verify_chain(state, signer, report, anchored)
    for chain, (seq, _) in anchored.items():
        report.problems.append(f"chain {chain}: anchored event #{seq} is gone (chain rolled back or deleted)")
    return report


class AuditReader:
    """Reads the trail page by page and checks its chains."""

    def __init__(self, *, uow: UnitOfWorkFactory, signer: ChainSigner):
        self._uow, self._signer = uow, signer

    def page(self, query: AuditQuery) -> tuple[list[ChainedEvent], int | None]:
        """One page, newest first, and the cursor of the next (None at the end)."""
        with self._uow() as uow:
            # One more than asked tells whether another page exists.
            events = uow.audit.query(replace(query, limit=query.limit + 1))
        if len(events) > query.limit:
            return events[: query.limit], events[query.limit - 1].id
        return events, None

    def verify(self, anchor: dict[str, tuple[int, str]] | None = None) -> ChainReport:
        """Recompute every chain (and compare with an anchor); problems name what was altered or removed."""
        with self._uow(snapshot=True) as uow:
            return verify_chains(uow.audit.chains(), self._signer, anchor)

    def anchor(self) -> dict[str, Any]:
        """Every chain's head now, signed with the newest audit key, to be stored outside the database."""
        with self._uow(snapshot=True) as uow:
            heads = uow.audit.heads()
        return sign_anchor(self._signer, heads, at=None, full=True)

    def load_anchor(self, document: dict[str, Any]) -> dict[str, tuple[int, str]]:
        """The heads of one exported anchor, after checking its signature."""
        return open_anchor(self._signer, document)[0]

    def load_anchors(self, documents: Iterable[dict[str, Any]]) -> AnchorSet:
        """Every anchor of a file or a webhook receiver, merged: the newest anchored event of each chain."""
        merged = AnchorSet()
        for number, document in enumerate(documents, start=1):
            try:
                heads, at = open_anchor(self._signer, document)
            except ValidationFailed as refused:
                merged.problems.append(f"anchor {number}: {refused.message}")
                continue
            merged.count += 1
            if at is not None and (merged.newest is None or at > merged.newest):
                merged.newest = at
            for chain, head in heads.items():
                if head[0] > merged.heads.get(chain, (0, ""))[0]:
                    merged.heads[chain] = head
        return merged


@dataclass
class AnchorSet:
    """Anchors read back: each chain's newest anchored head, and what could not be trusted."""

    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    count: int = 0
    newest: datetime | None = None
    problems: list[str] = field(default_factory=list)


def _anchor_body(heads: dict[str, tuple[int, str]], at: str | None, full: bool | None) -> bytes:
    """What an anchor's signature covers (anchors from before the schedule have only their heads)."""
    body: dict[str, Any] = {chain: list(head) for chain, head in heads.items()}
    if at is not None:
        body = {"at": at, "full": full, "heads": body}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_anchor(signer: ChainSigner, heads: dict[str, tuple[int, str]], *, at: datetime | None,
                full: bool) -> dict[str, Any]:
    """A signed anchor document: the given chain heads, when they were read, and whether that was all of them."""
    stamp = rfc3339(at) if at is not None else None
    key_id = signer.newest_key_id()
    document: dict[str, Any] = {"heads": {chain: list(head) for chain, head in heads.items()}, "key_id": key_id,
                                "signature": signer.sign(key_id, _anchor_body(heads, stamp, full))}
    if stamp is not None:
        document.update(at=stamp, full=full)
    return document


def open_anchor(signer: ChainSigner, document: Any) -> tuple[dict[str, tuple[int, str]], datetime | None]:
    """An anchor's heads and time, after checking its signature (ValidationFailed if it does not match)."""
    if isinstance(document, dict) and document.get("event") == ANCHOR_EVENT:
        document = document.get("details")  # as the events webhook delivered it
    try:
        heads = {str(chain): (int(seq), str(digest)) for chain, (seq, digest) in document["heads"].items()}
        stamp = document.get("at")
        at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) if stamp is not None else None
        body = _anchor_body(heads, stamp, document.get("full") if stamp is not None else None)
        expected = signer.sign(str(document["key_id"]), body)
        signature = str(document["signature"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValidationFailed("The anchor is not an anchor document.") from error
    if expected is None or not hmac.compare_digest(expected, signature):
        raise ValidationFailed("The anchor's signature does not match (altered, or signed with another key).")
    return heads, at


def anchor_due(previous: datetime | None, now: datetime, every: timedelta) -> bool:
    """Whether the next scheduled anchor is due, given when the previous one was taken.

    A time further ahead than one period is not believed (clock jump, or someone stopping the schedule).
    """
    return previous is None or previous > now + every or now >= previous + every


def _receipt_body(at: datetime) -> bytes:
    """What a delivery receipt's MAC covers: only the delivered anchor's time."""
    return f"audit-anchor-delivered:{rfc3339(at)}".encode()


def sign_receipt(signer: ChainSigner, at: datetime) -> AnchorReceipt:
    """A receipt that the anchor taken at `at` was delivered, which a database writer cannot make newer."""
    key_id = signer.newest_key_id()
    return AnchorReceipt(at=at, key_id=key_id, tag=signer.sign(key_id, _receipt_body(at)) or "")


def receipt_time(signer: ChainSigner, receipt: AnchorReceipt | None) -> datetime | None:
    """The delivered anchor's time, if the receipt's MAC matches (None otherwise)."""
    if receipt is None:
        return None
    expected = signer.sign(receipt.key_id, _receipt_body(receipt.at))
    return receipt.at if expected is not None and hmac.compare_digest(expected, receipt.tag) else None


class AuditAnchoring:
    """Writes a signed anchor of the chain heads every `every`, so removing the newest events (or a whole chain)
    is caught by `audit verify` without the operator exporting anything.

    The database row (claim_anchor) only decides which process takes each turn. Whether an anchor is overdue,
    and the age shown, come from what was written: the first destination's newest anchor (the file's newest
    line, or the webhook's newest signed delivery receipt) and this process's own last write. So a database
    writer who moves the row can delay an anchor by half a period at most, and can never make the age look
    younger. Each anchor holds the chains that moved since the destination's newest anchor (every head when
    there is none), with `lookback` to spare for transactions still open then and clock differences.
    """

    def __init__(self, *, uow: UnitOfWorkFactory, signer: ChainSigner, clock: Clock, sinks: Sequence[AnchorSink],
                 every: timedelta, lookback: timedelta = timedelta(minutes=1)):
        self._uow, self._signer, self._clock, self._sinks = uow, signer, clock, sinks
        self._every, self._lookback = every, max(lookback, every)
        self._next_look: datetime | None = None
        self._written: datetime | None = None  # the newest anchor this process wrote
        self._started: datetime | None = None  # this process's first look at the schedule

    @property
    def enabled(self) -> bool:
        """True when anchors have somewhere to go."""
        return bool(self._sinks)

    @property
    def period(self) -> timedelta:
        """How often an anchor is due."""
        return self._every

    def newest(self) -> datetime | None:
        """When the newest anchor the first destination holds was taken (None before the first)."""
        return self._sinks[0].newest(self._uow) if self._sinks else None

    def age(self) -> timedelta | None:
        """How long ago the newest anchor actually written was taken (None before the first)."""
        newest = self.newest()
        return None if newest is None else self._clock.now() - newest

    def run_if_due(self) -> dict[str, Any] | None:
        """Write the anchor if this process should (cheap when it is not its turn): the document written."""
        now = self._clock.now()
        if not self._sinks or (self._next_look is not None and now < self._next_look):
            return None
        self._started = self._started or now
        shown = self._believed(self.newest(), now)  # what the destination holds: what the next anchor extends
        written = max((at for at in (shown, self._written) if at is not None), default=None)
        base = written or self._started  # without any anchor, count from this process's start
        with self._uow(write=True) as uow:
            taken, previous = uow.audit.claim_anchor(now, self._every)
            overdue = now >= base + self._every * 1.5  # whatever the row says
            fresh = written is not None and now < written + self._every / 2  # the row was moved back
            if overdue or (taken and not fresh):
                document = self._write(uow, now, shown)
                self._written, self._next_look = now, now + self._every
                return document
        turns = [base + self._every * 1.5,
                 base + self._every / 2 if taken or previous is None else previous + self._every]
        self._next_look = min(turns)
        return None

    def _believed(self, at: datetime | None, now: datetime) -> datetime | None:
        """A time further ahead than one period is not believed (a clock jump, or a forged line)."""
        return at if at is not None and at <= now + self._every else None

    def _write(self, uow: UnitOfWork, now: datetime, shown: datetime | None) -> dict[str, Any]:
        """Sign the heads that moved since the destination's newest anchor (all of them without one): an anchor
        this process queued but the webhook never accepted (deleted from the outbox, say) is not relied on."""
        since = None if shown is None else min(shown, now) - self._lookback
        document = sign_anchor(self._signer, uow.audit.heads(since), at=now, full=since is None)
        for sink in self._sinks:
            sink.write(document, uow)
        uow.commit()
        return document
