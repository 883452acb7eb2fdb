"""Registering customers and their support PIN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from verify_service.domain.model import Actor, AuditEvent, Customer, rfc3339
from verify_service.domain.names import AuditEventName
from verify_service.domain.phone_refs import phone_change_details, phone_details
from verify_service.domain.pins import generate_pin
from verify_service.domain.ports import Clock, PinVault, UnitOfWork, UnitOfWorkFactory
from verify_service.errors import AccountClosed, DuplicateKey, NotFound, ValidationFailed


@dataclass(frozen=True)
class PinView:
    """A PIN as shown to its customer."""

    account_id: str
    pin: str
    issued_at: datetime


def load_customer(uow: UnitOfWork, account_id: str, *, for_update: bool = False,
                  closed_ok: bool = False) -> Customer:
    """The customer, or NotFound; AccountClosed (410) for a closed account unless `closed_ok`."""
    customer = uow.customers.get(account_id, for_update=for_update)
    if customer is None:
        raise NotFound(f"No customer with account_id {account_id!r}.")
    if customer.closed and not closed_ok:
        raise closed_error(customer)
    return customer


def closed_error(customer: Customer) -> AccountClosed:
    """The 410 every call on a closed account answers, with when it was closed."""
    assert customer.closed_at is not None
    return AccountClosed(details={"reason": "account_closed", "closed_at": rfc3339(customer.closed_at)})


def actor_event(event: str, at: datetime, account_id: str, actor: Actor, **details: Any) -> AuditEvent:
    """An audit event made by an API key on one customer."""
    return AuditEvent(event=event, at=at, account_id=account_id, actor=actor.key_name, agent_id=actor.agent_id,
                      ip=actor.ip, details=details)


@dataclass(frozen=True)
class RekeyResult:
    """What `pins rekey` did: PINs moved to the newest key, and PINs still under an older one."""

    key_id: str
    moved: int
    left: int


class CustomerService:
    """Registers and updates customers; shows and rotates their PIN."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, clock: Clock, default_locale: str):
        self._uow, self._vault, self._clock = uow, vault, clock
        self._default_locale = default_locale

    def get(self, account_id: str) -> Customer:
        """A customer's record, or NotFound."""
        with self._uow() as uow:
            return load_customer(uow, account_id)

    def register_or_update(self, account_id: str, changes: dict[str, Any], actor: Actor) -> tuple[Customer, bool]:
        """Create (issuing a PIN) or update; True when created."""
        try:
            return self._register_or_update(account_id, changes, actor)
        except DuplicateKey:
            # A concurrent PUT created the customer first: this one is an update.
            return self._register_or_update(account_id, changes, actor)

    def _register_or_update(self, account_id: str, changes: dict[str, Any], actor: Actor) -> tuple[Customer, bool]:
        """One attempt of register_or_update, in one transaction."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = uow.customers.get(account_id, for_update=True)
            if customer is None:
                customer = self._create(uow, account_id, changes, actor, now)
                created = True
            elif customer.closed:  # a closed account's id is never registered again (docs/API.md says why)
                raise closed_error(customer)
            else:
                self._update(uow, customer, changes, actor, now)
                created = False
            uow.commit()
        return customer, created

    def _create(self, uow: UnitOfWork, account_id: str, changes: dict[str, Any], actor: Actor,
                now: datetime) -> Customer:
        """Insert a new customer with a fresh PIN."""
        if not changes.get("phone"):
            raise ValidationFailed(details={"phone": ["Missing data for required field."]})
        pin = generate_pin()
        customer = Customer(account_id=account_id, phone=changes["phone"], email=changes.get("email"),
                            locale=changes.get("locale") or self._default_locale, created_at=now,
                            updated_at=now, pin=self._vault.seal(account_id, pin), pin_issued_at=now)
        uow.customers.add(customer)
        uow.audit.append(actor_event(AuditEventName.CUSTOMER_REGISTERED, now, account_id, actor,
                                     locale=customer.locale, **phone_details(self._vault, customer.phone)))
        uow.audit.append(actor_event(AuditEventName.PIN_ISSUED, now, account_id, actor, reason="registration"))
        return customer

    def _update(self, uow: UnitOfWork, customer: Customer, changes: dict[str, Any], actor: Actor,
                now: datetime) -> None:
        """Apply the given fields; audit which changed (names only, a new phone by reference)."""
        changed = [name for name, value in changes.items() if getattr(customer, name) != value]
        phone = phone_change_details(self._vault, customer.phone, changes["phone"]) if "phone" in changed else {}
        if phone:
            customer.phone_changed_at = now
        for name in changed:
            setattr(customer, name, changes[name])
        if not changed:
            return
        customer.updated_at = now
        uow.customers.save(customer)
        uow.audit.append(actor_event(AuditEventName.CUSTOMER_UPDATED, now, customer.account_id, actor,
                                     fields=sorted(changed), phone_changed=bool(phone), **phone))

    def view_pin(self, account_id: str, actor: Actor) -> PinView:
        """The customer's PIN (issuing one if none); every view is audited."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            if customer.pin is None:
                pin = self._issue(uow, customer, actor, now, event=AuditEventName.PIN_ISSUED)
            else:
                pin = self._vault.open(account_id, customer.pin)
            uow.audit.append(actor_event(AuditEventName.PIN_VIEWED, now, account_id, actor))
            uow.commit()
        assert customer.pin_issued_at is not None
        return PinView(account_id, pin, customer.pin_issued_at)

    def rotate_pin(self, account_id: str, actor: Actor) -> PinView:
        """A new PIN, never the previous one; the old one stops working at once."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            pin = self._issue(uow, customer, actor, now, event=AuditEventName.PIN_ROTATED)
            uow.commit()
        return PinView(account_id, pin, now)

    def _issue(self, uow: UnitOfWork, customer: Customer, actor: Actor, now: datetime, *, event: str) -> str:
        """Seal a fresh PIN onto the customer and audit it."""
        previous = self._vault.open(customer.account_id, customer.pin) if customer.pin else None
        pin = generate_pin(previous)
        customer.pin = self._vault.seal(customer.account_id, pin)
        customer.pin_issued_at = customer.updated_at = now
        uow.customers.save(customer)
        uow.audit.append(actor_event(event, now, customer.account_id, actor))
        return pin

    def rekey_pins(self, actor: Actor, *, batch: int = 500) -> RekeyResult:
        """Re-seal every PIN under the newest key, a batch per transaction, online; audited once at the end.

        A PIN rotated meanwhile is left alone: its new seal already uses the newest key.
        """
        newest, moved, after = self._vault.newest_key_id(), 0, ""
        while True:
            with self._uow(write=True) as uow:
                olds = uow.customers.with_old_pin_key(newest, batch, after)
                for customer in olds:
                    assert customer.pin is not None
                    pin = self._vault.open(customer.account_id, customer.pin)
                    moved += uow.customers.replace_pin(customer, customer.pin,
                                                       self._vault.seal(customer.account_id, pin))
                uow.commit()
            if len(olds) < batch:
                break
            after = olds[-1].account_id
        with self._uow(write=True) as uow:
            left = uow.customers.count_old_pin_key(newest)
            uow.audit.append(AuditEvent(event=AuditEventName.PINS_REKEYED, at=self._clock.now(), actor=actor.key_name,
                                        details={"key_id": newest, "moved": moved, "left": left}))
            uow.commit()
        return RekeyResult(newest, moved, left)
