"""Account closure: erase a customer's personal data and secrets, keep the account id marked closed.

What goes, in one transaction with the closed mark: the PIN, phone, email and TOTP secrets on the customer row,
the account's one-time codes, its queued and sent messages (they hold the phone number; its security events for
the platform stay), its contacts and approval requests. What stays: the id, when it was created and closed, and
records that name the account by id only (check records, audit events), until retention removes them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

from verify_service.domain.customers import actor_event, load_customer
from verify_service.domain.model import Actor, Customer
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import AttemptCounter, Clock, UnitOfWork, UnitOfWorkFactory
from verify_service.errors import ValidationFailed

log = logging.getLogger(__name__)
PHONE_TAIL = 8  # a reason holding the phone number's last 8 digits is taken to hold the number


@dataclass(frozen=True)
class Closure:
    """A closed account: when, and what this call erased (nothing on a repeat: `repeated`)."""

    account_id: str
    closed_at: datetime
    erased: dict[str, int] = field(default_factory=dict)
    repeated: bool = False


def personal_data_in(reason: str, customer: Customer) -> bool:
    """The reason holds the customer's phone number or email address (the audit trail would keep it)."""
    digits = re.sub(r"\D", "", reason)
    phone = re.sub(r"\D", "", customer.phone)
    if len(phone) >= PHONE_TAIL and phone[-PHONE_TAIL:] in digits:
        return True
    return bool(customer.email) and customer.email is not None and customer.email.lower() in reason.lower()


def erase(customer: Customer, now: datetime) -> None:
    """Blank the customer's personal data and secrets and mark the account closed."""
    customer.phone, customer.email = "", None
    customer.pin = customer.totp = customer.totp_pending = None
    customer.pin_issued_at = customer.phone_changed_at = customer.locked_until = None
    customer.second_factor = "sms"
    customer.closed_at = customer.updated_at = now


class ClosureService:
    """Closes accounts (portal and admin keys only; the API decides who may call)."""

    def __init__(self, *, uow: UnitOfWorkFactory, counter: AttemptCounter, clock: Clock):
        self._uow, self._counter, self._clock = uow, counter, clock

    def close(self, account_id: str, reason: str, actor: Actor) -> Closure:
        """Erase and mark closed, audited as `customer_closed` (a security event); a repeat changes nothing but
        clears the lockout counter again (a first closure may have left it behind)."""
        # Fail closed before erasing anything: with the counter's store down (Redis) the counter could not be
        # cleared, so the caller gets 503 and an account untouched, never one closed with its counter kept.
        self._counter.ping()
        now = self._clock.now()
        with self._uow(write=True) as uow:
            # The row lock orders this closure with every other change of the customer (and a second DELETE).
            customer = load_customer(uow, account_id, for_update=True, closed_ok=True)
            if customer.closed_at is not None:
                closure = Closure(account_id, customer.closed_at, repeated=True)
            else:
                closure = self._erase(uow, customer, reason, actor, now)
        if closure.repeated:
            self._counter.clear(account_id)  # the retry of a closure whose clearing failed: 503 until it works
        else:
            self._forget_counter(account_id)
        return closure

    def _erase(self, uow: UnitOfWork, customer: Customer, reason: str, actor: Actor, now: datetime) -> Closure:
        """Erase the customer's data and traces, audited, in the caller's transaction (committed here)."""
        if personal_data_in(reason, customer):
            raise ValidationFailed(details={"reason": [
                "Must not hold the customer's phone number or email address: the audit trail keeps the reason."]})
        erased = uow.customers.erase_traces(customer.account_id)
        erase(customer, now)
        uow.customers.save(customer)
        uow.audit.append(actor_event(AuditEventName.CUSTOMER_CLOSED, now, customer.account_id, actor,
                                     reason=reason, erased=erased))
        uow.commit()
        return Closure(customer.account_id, now, erased)

    def _forget_counter(self, account_id: str) -> None:
        """Drop the lockout counter (after the commit: with SQLite it lives in the same file). The store answered
        the ping a moment ago; should it fail now, the closure stands (every check on the account answers 410
        before counting), the counter expires by itself, and a repeat DELETE clears it."""
        try:
            self._counter.clear(account_id)
        except Exception as error:  # the closure is committed; a repeat DELETE clears the counter
            log.warning("closure: the lockout counter of a closed account was not cleared: %s", type(error).__name__)
