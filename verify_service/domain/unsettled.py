"""Counts whose outcome nobody knows: a check answered 503 after its counter call may already have been sent.

A counter call that times out may still run (queued behind a slow script in Redis). Its check was answered 503
and recorded nothing, so the rule says it counts nothing: the check's id is kept here until the counter answers
again, and then its failure (if it ran) is taken back, and its count (if still on its way) cancelled.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from verify_service.domain.agent_watch import CarriedAct

log = logging.getLogger(__name__)
LIMIT = 10_000  # past this, the oldest are dropped (their failure stays counted: a lock early, never late)


@dataclass(frozen=True)
class UnsettledCount:
    """One check answered 503 whose count may have reached the counter."""

    key: str
    at: datetime
    check_id: str
    carried: CarriedAct | None = None
    taken_back: bool = False  # the counter has forgotten it; the customer row's copy of its lock is left


class UnsettledCounts:
    """The counts this process has still to settle, oldest first (thread safe, bounded)."""

    def __init__(self, limit: int = LIMIT):
        self._items: deque[UnsettledCount] = deque()
        self._lock = threading.Lock()
        self._limit = limit
        self.dropped = 0

    def __len__(self) -> int:
        """How many are waiting."""
        return len(self._items)

    def add(self, item: UnsettledCount) -> None:
        """Keep one to settle later."""
        self.put_back([item])

    def put_back(self, items: list[UnsettledCount]) -> None:
        """Keep these (not settled yet), dropping the oldest past the limit."""
        with self._lock:
            self._items.extend(items)
            while len(self._items) > self._limit:
                self._items.popleft()
                self.dropped += 1
                log.warning("an unsettled count was dropped (over %d waiting); its failure stays counted", self._limit)

    def take(self) -> list[UnsettledCount]:
        """All that wait, removed from here (the caller puts back what it could not settle)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items
