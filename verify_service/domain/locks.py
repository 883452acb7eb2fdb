"""Lock status, supervisor unlocks and freezes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from verify_service.domain.customers import actor_event, load_customer
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.model import Actor, Customer
from verify_service.domain.ports import AttemptCounter, Clock, UnitOfWorkFactory


@dataclass(frozen=True)
class LockStatus:
    """The contract's lock view of one customer."""

    locked: bool
    locked_until: datetime | None
    failed_attempts: int
    threshold: int


class LockService:
    """Reads and clears locks; freezes and unfreezes customers."""

    def __init__(self, *, uow: UnitOfWorkFactory, counter: AttemptCounter, clock: Clock, policy: LockoutPolicy):
        self._uow, self._counter, self._clock, self._policy = uow, counter, clock, policy

    def status(self, account_id: str) -> LockStatus:
        """Whether the customer is locked, until when, and the failure count."""
        with self._uow() as uow:
            customer = load_customer(uow, account_id)
        return self._status(customer, self._clock.now())

    def _status(self, customer: Customer, now: datetime) -> LockStatus:
        """Combine the durable lock with the counter's view."""
        state = self._counter.state(customer.account_id, now, self._policy)
        until = max((t for t in (customer.lock_in_force(now), state.locked_until) if t), default=None)
        failures = state.failures
        if until is not None:
            # A lock means the threshold was reached, even if a Redis restart lost the count.
            failures = max(failures, self._policy.threshold)
        return LockStatus(until is not None, until, failures, self._policy.threshold)

    def unlock(self, account_id: str, reason: str, actor: Actor) -> LockStatus:
        """Lift any lock and reset the count; audited with the reason."""
        now = self._clock.now()
        before = self.status(account_id)
        # The counter may live in the same SQLite file: clear it outside our write transaction.
        self._counter.clear(account_id)
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            customer.locked_until, customer.unlocked_at = None, now
            uow.customers.save(customer)
            uow.audit.append(actor_event("customer_unlocked", now, account_id, actor, reason=reason,
                                         was_locked=before.locked, failed_attempts=before.failed_attempts))
            uow.commit()
        return LockStatus(False, None, 0, self._policy.threshold)

    def freeze(self, account_id: str, reason: str, actor: Actor) -> Customer:
        """Freeze a customer under suspected takeover (idempotent)."""
        return self._set_frozen(account_id, reason, actor, frozen=True)

    def unfreeze(self, account_id: str, reason: str, actor: Actor) -> Customer:
        """Lift a freeze (idempotent)."""
        return self._set_frozen(account_id, reason, actor, frozen=False)

    def _set_frozen(self, account_id: str, reason: str, actor: Actor, *, frozen: bool) -> Customer:
        """Change the freeze and audit it when it changed."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            if customer.frozen != frozen:
                customer.frozen_at = now if frozen else None
                customer.updated_at = now
                uow.customers.save(customer)
                event = "customer_frozen" if frozen else "customer_unfrozen"
                uow.audit.append(actor_event(event, now, account_id, actor, reason=reason))
                uow.commit()
        return customer
