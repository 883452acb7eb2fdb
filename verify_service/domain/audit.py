"""The audit trail's HMAC chain: one chain per customer, so customers never wait on each other."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from verify_service.domain.model import AuditEvent, AuditQuery, ChainedEvent
from verify_service.domain.ports import ChainSigner, UnitOfWorkFactory

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
                  signer: ChainSigner) -> ChainReport:
    """Recompute every chain; events must arrive chain by chain in seq order."""
    report = ChainReport()
    last: dict[str, tuple[int, str]] = {}
    for item in events:
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

    def verify(self) -> ChainReport:
        """Recompute every chain; problems name what was altered or removed."""
        with self._uow(snapshot=True) as uow:
            heads = uow.audit.heads()
            return verify_chains(uow.audit.walk(), heads, self._signer)
