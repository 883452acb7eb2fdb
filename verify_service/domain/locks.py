"""Lock status, supervisor unlocks and freezes."""

from __future__ import annotations

from datetime import datetime

from verify_service.domain.customers import actor_event, load_customer
from verify_service.domain.lockout import AttemptState, CounterRecord, LockoutPolicy, counter_from_checks, to_ms
from verify_service.domain.model import Actor, Customer
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import AttemptCounter, Clock, UnitOfWorkFactory
from verify_service.domain.standing import Standing, durable_lock, standing


class CheckHistory:
    """Rebuilds a customer's lockout counter from their check records, when Redis has forgotten it."""

    def __init__(self, *, uow: UnitOfWorkFactory):
        self._uow = uow

    def rebuild(self, key: str, now: datetime, policy: LockoutPolicy) -> CounterRecord:
        """Failures since the last reset (success, unlock, end of a lock) within the window, and a running lock."""
        with self._uow() as uow:
            customer = uow.customers.get(key)
            if customer is None:  # sign-in throttles and unknown customers have no records
                return CounterRecord([])
            since = now - (policy.window + policy.lock_for)  # back to the failures that set a running lock
            if customer.unlocked_at is not None:
                since = max(since, customer.unlocked_at)
            checks = uow.verifications.outcomes_since(key, since, policy.threshold + 1)
        record = counter_from_checks(checks, now, policy)
        durable = durable_lock(customer, now)
        if durable is not None and (record.locked_until_ms or 0) < to_ms(durable):
            record.locked_until_ms = to_ms(durable)
        return record


class LockService:
    """Reads and clears locks; freezes and unfreezes customers."""

    def __init__(self, *, uow: UnitOfWorkFactory, counter: AttemptCounter, clock: Clock, policy: LockoutPolicy):
        self._uow, self._counter, self._clock, self._policy = uow, counter, clock, policy

    def status(self, account_id: str) -> Standing:
        """Whether the customer is locked (or frozen), until when, and the failure count."""
        with self._uow() as uow:
            customer = load_customer(uow, account_id)
        return self.standing(customer)

    def standing(self, customer: Customer) -> Standing:
        """The customer's standing now: the durable lock and the counter's, decided by `standing()`."""
        now = self._clock.now()
        return standing(customer, now, self._policy, self._counter.state(customer.account_id, now, self._policy))

    def unlock(self, account_id: str, reason: str, actor: Actor) -> Standing:
        """Lift any lock and reset the count; audited with the reason."""
        before = self.status(account_id)
        # The counter may live in the same SQLite file: clear it outside our write transaction.
        self._counter.clear(account_id)
        # Stamped after the clear: a check whose lock began before this moment was cleared by it.
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            customer.locked_until, customer.unlocked_at = None, now
            uow.customers.save(customer)
            uow.audit.append(actor_event(AuditEventName.CUSTOMER_UNLOCKED, now, account_id, actor, reason=reason,
                                         was_locked=before.locked, failed_attempts=before.failed_attempts))
            uow.commit()
        return standing(customer, now, self._policy, AttemptState(0, None))

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
