"""The audit trail's HMAC chain: one chain per customer, so customers never wait on each other."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from verify_service.domain.model import AuditEvent, AuditQuery, ChainedEvent
from verify_service.domain.ports import ChainSigner, UnitOfWorkFactory
from verify_service.errors import ValidationFailed

GENESIS_HASH = "0" * 64
SYSTEM_CHAIN = "-"


def chain_of(event: AuditEvent) -> str:
    """The chain an event belongs to: its customer's, or the system chain."""
    return event.account_id or SYSTEM_CHAIN


def chain_input(prev_hash: str, chain: str, seq: int, event: AuditEvent) -> bytes:
    """What each link's HMAC covers: the previous hash and a canonical form of the event."""
    body = {
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
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (prev_hash + canonical).encode()


@dataclass
class ChainReport:
    """What `audit verify` found."""

    events: int = 0
    chains: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No event altered, removed or reordered."""
        return not self.problems


def verify_chains(events: Iterable[ChainedEvent], heads: dict[str, tuple[int, str]],
                  signer: ChainSigner, anchor: dict[str, tuple[int, str]] | None = None) -> ChainReport:
    """Recompute every chain; events must arrive chain by chain in seq order.

    With an anchor (heads exported earlier and kept outside the database), every anchored event must
    still be there, unchanged: that catches a chain rolled back or deleted whole.
    """
    report = ChainReport()
    last: dict[str, tuple[int, str]] = {}
    anchored = dict(anchor or {})
    for item in events:
        if anchored.get(item.chain, (None, None))[0] == item.seq:
            if anchored.pop(item.chain)[1] != item.hash:
                report.problems.append(f"chain {item.chain} #{item.seq}: differs from the anchor")
        report.events += 1
        seq, prev = last.get(item.chain, (0, GENESIS_HASH))
        if item.seq != seq + 1:
            report.problems.append(f"chain {item.chain}: event #{seq + 1} is missing (found #{item.seq})")
        if item.prev_hash != prev:
            report.problems.append(f"chain {item.chain} #{item.seq}: prev_hash does not match")
        expected = signer.sign(item.key_id, chain_input(item.prev_hash, item.chain, item.seq, item.event))
        if expected is None:
            report.problems.append(f"chain {item.chain} #{item.seq}: key {item.key_id!r} is not in VERIFY_AUDIT_KEYS")
        elif not hmac.compare_digest(expected, item.hash):
            report.problems.append(f"chain {item.chain} #{item.seq} (id {item.id}): event was altered")
        last[item.chain] = (item.seq, item.hash)
    for chain, head in heads.items():
        if last.get(chain) != head:
            report.problems.append(f"chain {chain}: last event does not match the chain head (removed?)")
    for chain in last.keys() - heads.keys():
        report.problems.append(f"chain {chain}: has no chain head")
    for chain, (seq, _) in anchored.items():
        report.problems.append(f"chain {chain}: anchored event #{seq} is gone (chain rolled back or deleted)")
    report.chains = len(last)
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
            heads = uow.audit.heads()
            return verify_chains(uow.audit.walk(), heads, self._signer, anchor)

    def anchor(self) -> dict[str, Any]:
        """Every chain's head now, signed with the newest audit key, to be stored outside the database."""
        with self._uow(snapshot=True) as uow:
            heads = uow.audit.heads()
        body = json.dumps(heads, sort_keys=True, separators=(",", ":"))
        key_id = self._signer.newest_key_id()
        return {"heads": heads, "key_id": key_id, "signature": self._signer.sign(key_id, body.encode())}

    def load_anchor(self, document: dict[str, Any]) -> dict[str, tuple[int, str]]:
        """The heads of an exported anchor, after checking its signature."""
        heads = {chain: (int(seq), str(digest)) for chain, (seq, digest) in document["heads"].items()}
        body = json.dumps(heads, sort_keys=True, separators=(",", ":"))
        expected = self._signer.sign(str(document["key_id"]), body.encode())
        if expected is None or not hmac.compare_digest(expected, str(document["signature"])):
            raise ValidationFailed("The anchor's signature does not match (altered, or signed with another key).")
        return heads
