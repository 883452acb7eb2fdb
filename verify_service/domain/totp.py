"""Authenticator apps (TOTP, RFC 6238): enrol, confirm, remove, and check a code once."""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from verify_service.domain.customers import actor_event, load_customer
from verify_service.domain.model import Actor, Customer
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import Clock, PinVault, UnitOfWorkFactory
from verify_service.errors import Conflict

STEP_SECONDS = 30
DRIFT_STEPS = 1


@dataclass(frozen=True)
class Enrolment:
    """What the portal shows to set up an authenticator app."""

    otpauth_uri: str
    qr_svg: str


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (now ±1) whose code equals `code`, compared in constant time."""
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            found = step
    return found


class TotpService:
    """Enrolment lifecycle and one-time use of TOTP codes."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, clock: Clock, issuer: str):
        self._uow, self._vault, self._clock, self._issuer = uow, vault, clock, issuer

    def enrol(self, account_id: str, actor: Actor) -> Enrolment:
        """Start (or restart) enrolment with a fresh secret; active only once confirmed."""
        secret = base64.b32encode(secrets.token_bytes(20)).decode()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            customer.totp_pending = self._vault.seal(account_id, secret, purpose="totp")
            uow.customers.save(customer)
            uow.commit()
        uri = pyotp.TOTP(secret).provisioning_uri(name=account_id, issuer_name=self._issuer)
        return Enrolment(uri, segno.make(uri, error="m").svg_inline(scale=4))

    def confirm(self, account_id: str, code: str, actor: Actor) -> Customer:
        """Activate the pending secret with a current code from the app."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            if customer.totp_pending is None:
                raise Conflict("No authenticator enrolment is pending; start one first.",
                               details={"reason": "not_pending"})
            secret = self._vault.open(account_id, customer.totp_pending, purpose="totp")
            step = matching_step(secret, code, now)
            if step is None:  # well formed but wrong: a refusal with a reason, not a schema error
                raise Conflict("The code does not match the authenticator app's current code.",
                               details={"reason": "mismatch"})
            customer.totp, customer.totp_pending, customer.second_factor = customer.totp_pending, None, "totp"
            customer.updated_at = now
            uow.customers.save(customer)
            uow.customers.advance_totp_step(account_id, step)  # the confirming code is used up
            uow.audit.append(actor_event(AuditEventName.TOTP_ENROLLED, now, account_id, actor))
            uow.commit()
        return customer

    def remove(self, account_id: str, actor: Actor) -> None:
        """Remove the authenticator; codes go back to SMS."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            customer = load_customer(uow, account_id, for_update=True)
            had = customer.totp is not None or customer.totp_pending is not None
            customer.totp, customer.totp_pending, customer.second_factor = None, None, "sms"
            customer.updated_at = now
            uow.customers.save(customer)
            if had:
                uow.audit.append(actor_event(AuditEventName.TOTP_REMOVED, now, account_id, actor))
            uow.commit()

    def check(self, customer: Customer, code: str, now: datetime) -> bool:
        """True once per time step for a current code of the customer's app (replays are False)."""
        assert customer.totp is not None
        step = matching_step(self._vault.open(customer.account_id, customer.totp, purpose="totp"), code, now)
        if step is None:
            return False
        with self._uow(write=True) as uow:
            fresh = uow.customers.advance_totp_step(customer.account_id, step)
            uow.commit()
        return fresh
