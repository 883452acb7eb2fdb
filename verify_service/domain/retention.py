"""Retention: each kind of data leaves the database once it is older than its setting, in small batches.

A sweep removes one kind (check records, codes, delivered messages ...). The service gives each its cutoff
(now minus how long the kind is kept, never less than the kind's floor: what the service itself still reads)
and runs them one after another. The outbox worker runs it on a schedule, one process of the deployment a turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from verify_service.domain.ports import Clock

log = logging.getLogger(__name__)
DEFAULT_BATCH = 1000
TURN = "retention"  # the schedule row that decides which process sweeps next


class Sweep(Protocol):
    """Removes one kind of data older than a cutoff."""

    kind: str  # "verifications", "codes", "outbox", "contacts", "approvals", "agent_activity", "anomalies", ...

    def run(self, cutoff: datetime, *, dry_run: bool, batch: int) -> int:
        """Remove rows older than `cutoff`, `batch` per short transaction: how many were (or would be) removed."""
        ...


class Turns(Protocol):
    """Which process of the deployment takes a scheduled turn."""

    def claim(self, name: str, now: datetime, every: timedelta) -> bool:
        """True for exactly one caller once `every` has passed since the last turn taken."""
        ...


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: `removed` rows older than `cutoff` (None: the kind is kept forever); `error` if it failed."""

    kind: str
    cutoff: datetime | None
    removed: int = 0
    error: str | None = None


# Kinds that leave a calendar month at a time. Audit events leave through the archive, and each archive segment ends
# with a checkpoint of every chain's head (about 100 B a customer): archiving each hour's events on the hourly
# schedule wrote that checkpoint 8,760 times a year (a 96 MB segment for 1,173 events with 1,000,000 customers,
# measured); a month at a time, 12 times. Audit events stay in the database up to a month past their setting.
WHOLE_MONTHS = frozenset({"audit_events"})


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind is kept (None: forever) and the least it may be kept, whatever the setting says."""

    keep: Mapping[str, timedelta | None]
    floors: Mapping[str, timedelta]

    def cutoff(self, kind: str, now: datetime) -> datetime | None:
        """Rows of `kind` older than this go (None: none go); for WHOLE_MONTHS kinds, from the start of that month."""
        keep = self.keep.get(kind)
        if keep is None:
            return None
        cutoff = now - max(keep, self.floors.get(kind, timedelta(days=1)))
        if kind in WHOLE_MONTHS:
            return cutoff.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return cutoff


class RetentionService:
    """Runs every sweep with its own cutoff and reports per kind; on a schedule, one process at a time."""

    def __init__(self, *, sweeps: Sequence[Sweep], policy: RetentionPolicy, clock: Clock, turns: Turns | None = None,
                 every: timedelta | None = None, batch: int = DEFAULT_BATCH):
        self._sweeps, self._policy, self._clock = list(sweeps), policy, clock
        self._turns, self._every, self._batch = turns, every, batch
        self._next_look: datetime | None = None

    @property
    def kinds(self) -> list[str]:
        """The kinds swept, in order."""
        return [sweep.kind for sweep in self._sweeps]

    def run(self, *, dry_run: bool = False, batch: int | None = None) -> list[SweepReport]:
        """Run every sweep; one that fails is reported (and logged), and the others still run."""
        now = self._clock.now()
        return [self._run_one(sweep, now, dry_run, batch or self._batch) for sweep in self._sweeps]

    def _run_one(self, sweep: Sweep, now: datetime, dry_run: bool, batch: int) -> SweepReport:
        """One sweep, its failure caught."""
        cutoff = self._policy.cutoff(sweep.kind, now)
        if cutoff is None:
            return SweepReport(sweep.kind, None)
        try:
            return SweepReport(sweep.kind, cutoff, sweep.run(cutoff, dry_run=dry_run, batch=batch))
        except Exception as error:  # one kind's failure must not keep the others
            log.warning("retention: the %s sweep failed: %s", sweep.kind, type(error).__name__)
            return SweepReport(sweep.kind, cutoff, error=type(error).__name__)

    def due(self) -> bool:
        """Claim this period's turn if it is this process's (cheap between looks): True when it was."""
        if self._turns is None or not self._every:
            return False
        now = self._clock.now()
        if self._next_look is not None and now < self._next_look:
            return False
        # Look again in a tenth of the period: a turn another process took is not looked at every second.
        self._next_look = now + self._every / 10
        return self._turns.claim(TURN, now, self._every)

    def run_if_due(self) -> list[SweepReport] | None:
        """Run the sweeps when this process takes the scheduled turn; the reports, or None."""
        return self.run_logged() if self.due() else None

    def run_logged(self) -> list[SweepReport]:
        """Run the sweeps and log what went, per kind (the scheduled run: nobody reads its reports)."""
        reports = self.run()
        removed = ", ".join(f"{report.kind} {report.removed}" for report in reports if report.cutoff is not None)
        log.info("retention: removed %s", removed or "nothing (every kind is kept forever)")
        return reports
