"""A chain head read together with its customer, kept for this request's check record (PostgreSQL).

The check's customer read also returns the customer's audit head and takes the next event id, so that the
record write need not read them again. The values are only a first guess: the write moves the head only if
it is still where it was read, and reads it afresh otherwise.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import NamedTuple


class Head(NamedTuple):
    """A chain's head as one read saw it, and an event id taken in that same read."""

    chain: str
    seq: int
    hash: str
    next_id: int


_SEEN: ContextVar[Head | None] = ContextVar("verify_service_seen_head", default=None)


def remember(head: Head | None) -> None:
    """Keep the head the latest customer read saw (None: it had none)."""
    _SEEN.set(head)


def take(chain: str) -> Head | None:
    """The head remembered for `chain`, once (a second take, or another chain's, gets None)."""
    head = _SEEN.get()
    _SEEN.set(None)
    return head if head is not None and head.chain == chain else None
