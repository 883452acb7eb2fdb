"""Is this customer locked or frozen right now? The one place that decides it.

A customer is locked while either lock runs: the durable one on their row (it survives a Redis restart)
or the attempt counter's (exact across instances). A freeze outranks a lock. Checks, code sends, the lock
view, the customer summary and the console all ask `standing()`; nothing else compares lock times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from verify_service.domain.lockout import AttemptState, LockoutPolicy
from verify_service.domain.model import Customer
from verify_service.domain.names import CustomerStatus


@dataclass(frozen=True)
class Standing:
    """A customer's status and lock as the contract shows them (the lock view and the summary)."""

    status: CustomerStatus
    locked_until: datetime | None
    failed_attempts: int
    threshold: int

    @property
    def locked(self) -> bool:
        """A lock is running (whatever the freeze)."""
        return self.locked_until is not None

    @property
    def frozen(self) -> bool:
        """A supervisor's freeze is in force."""
        return self.status is CustomerStatus.FROZEN


def durable_lock(customer: Customer, now: datetime) -> datetime | None:
    """The end of the lock kept on the customer's row, if it still runs."""
    if customer.locked_until is not None and customer.locked_until > now:
        return customer.locked_until
    return None


def standing(customer: Customer, now: datetime, policy: LockoutPolicy,
             counter: AttemptState | None = None) -> Standing:
    """Decide status and lock from the row and, when given, the counter's state.

    A check passes no counter state: the step that counts answers "locked" itself, in the same round trip.
    """
    ends = [durable_lock(customer, now)]
    if counter is not None and counter.locked_until is not None and counter.locked_until > now:
        ends.append(counter.locked_until)
    until = max((end for end in ends if end is not None), default=None)
    failures = counter.failures if counter is not None else 0
    if until is not None:
        # A lock means the threshold was reached, even if a Redis restart lost the count.
        failures = max(failures, policy.threshold)
    if customer.frozen:
        status = CustomerStatus.FROZEN
    else:
        status = CustomerStatus.LOCKED if until is not None else CustomerStatus.ACTIVE
    return Standing(status, until, failures, policy.threshold)
