"""The audit archive's segment format: canonical JSON lines, archived events, signed checkpoints."""

from __future__ import annotations

import heapq
import hmac
import itertools
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from verify_service.domain.model import AuditEvent, ChainedEvent, rfc3339
from verify_service.domain.ports import ChainSigner
from verify_service.errors import ValidationFailed

SEGMENT_FORMAT = 1
Head = tuple[str, int, str]  # chain, seq, hash


def dumps(document: Any) -> bytes:
    """One canonical JSON line."""
    return (json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def event_record(item: ChainedEvent) -> dict[str, Any]:
    """An archived event: every stored column, so its HMAC can be recomputed offline."""
    event = item.event
    return {"id": item.id, "chain": item.chain, "seq": item.seq, "prev_hash": item.prev_hash, "hash": item.hash,
            "key_id": item.key_id, "chain_format": item.chain_format, "at": event.at.isoformat(),
            "event": event.event, "account_id": event.account_id, "actor": event.actor, "agent_id": event.agent_id,
            "channel": event.channel, "ticket_ref": event.ticket_ref, "ip": event.ip, "details": event.details}


def event_from_record(record: dict[str, Any]) -> ChainedEvent:
    """An archived event read back (KeyError, TypeError or ValueError if it is not one)."""
    event = AuditEvent(event=record["event"], at=datetime.fromisoformat(record["at"]),
                       account_id=record["account_id"], actor=record["actor"], agent_id=record["agent_id"],
                       channel=record["channel"], ticket_ref=record["ticket_ref"], ip=record["ip"],
                       details=record["details"])
    return ChainedEvent(id=int(record["id"]), event=event, chain=str(record["chain"]), seq=int(record["seq"]),
                        prev_hash=str(record["prev_hash"]), hash=str(record["hash"]), key_id=str(record["key_id"]),
                        chain_format=int(record["chain_format"]))


def sign_checkpoint(signer: ChainSigner, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The trailer: the checkpoint and its signature under the newest audit key."""
    key_id = signer.newest_key_id()
    return {"checkpoint": checkpoint, "key_id": key_id, "signature": signer.sign(key_id, dumps(checkpoint))}


def open_checkpoint(signer: ChainSigner, trailer: Any) -> dict[str, Any]:
    """A trailer's checkpoint after checking its signature (ValidationFailed: unsigned, altered or not one)."""
    try:
        checkpoint, key_id, signature = trailer["checkpoint"], str(trailer["key_id"]), str(trailer["signature"])
        expected = signer.sign(key_id, dumps(checkpoint))
    except (KeyError, TypeError) as error:
        raise ValidationFailed("it does not end with a signed checkpoint") from error
    if expected is None or not hmac.compare_digest(expected, signature) or not isinstance(checkpoint, dict):
        raise ValidationFailed("its checkpoint's signature does not match (altered, or signed with another key)")
    return checkpoint


def periods(oldest: datetime, cutoff: datetime) -> list[datetime]:
    """A run's cuts: the start of each calendar month (UTC) after the oldest event and before the cutoff, then the
    cutoff itself, so that each segment holds one month at most."""
    month = datetime(oldest.year, oldest.month, 1, tzinfo=UTC)
    cuts: list[datetime] = []
    while True:
        month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        if month >= cutoff:
            return [*cuts, cutoff]
        cuts.append(month)


def newest_heads(old: Iterable[Head], moved: Iterable[Head]) -> Iterator[Head]:
    """Every chain's head at the new cut: a chain that moved replaces its old head (both inputs sorted by chain)."""
    merged = heapq.merge(old, moved, key=lambda head: head[0])  # stable: for one chain, the moved head comes last
    for _, same in itertools.groupby(merged, key=lambda head: head[0]):
        *_, last = same
        yield last


def segment_period(cut: datetime) -> str:
    """How a segment's cut reads in its file name."""
    return rfc3339(cut).replace("-", "").replace(":", "")
