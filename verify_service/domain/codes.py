"""One-time codes: send (limits, SIM-swap guard, outbox) and check (single use, expiry, death after wrong entries)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from verify_service.domain.checks import CheckRequest
from verify_service.domain.customers import load_customer
from verify_service.domain.delivery import new_message
from verify_service.domain.lockout import AttemptState, LockoutPolicy
from verify_service.domain.masking import mask_phone
from verify_service.domain.model import Actor, AuditEvent, Challenge, Customer, rfc3339_deadline
from verify_service.domain.names import AuditEventName, ChallengeStatus, FactorResult
from verify_service.domain.phone_refs import phone_details
from verify_service.domain.ports import (
    ActivityWatch,
    AttemptCounter,
    Clock,
    PinVault,
    Texts,
    UnitOfWork,
    UnitOfWorkFactory,
)
from verify_service.domain.sms_guard import SmsGuard
from verify_service.domain.standing import standing
from verify_service.domain.templates import render_code_message
from verify_service.domain.totp import TotpService
from verify_service.errors import Conflict, NotFound, RateLimited

MATCH, MISMATCH, EXPIRED = FactorResult.MATCH, FactorResult.MISMATCH, FactorResult.EXPIRED
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class CodePolicy:
    """Lifetimes and limits of one-time codes."""

    ttl: timedelta = timedelta(minutes=5)
    resend_after: timedelta = timedelta(seconds=30)
    max_sends_per_hour: int = 5
    max_wrong: int = 3
    phone_change_hold: timedelta = timedelta(hours=24)
    allowed_countries: tuple[str, ...] = ()
    brand: str = ""  # VERIFY_BRAND_NAME; unset: texts name "Customer Support" (domain.brand)


@dataclass(frozen=True)
class SendRequest:
    """What an agent or the portal asked to send."""

    account_id: str
    channel: str | None = None
    agent_id: str | None = None
    ticket_ref: str | None = None


def mac_input(challenge_id: str, code: str) -> str:
    """What the stored MAC covers: the code bound to its challenge."""
    return f"{challenge_id}:{code}"


def _generate_code() -> str:
    """Six digits from the CSPRNG."""
    return f"{secrets.randbelow(10**6):06d}"


class CodeService:
    """Sends one-time codes through the outbox and reports on them."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, clock: Clock, counter: AttemptCounter,
                 policy: CodePolicy, lock_policy: LockoutPolicy, guard: SmsGuard, texts: Texts,
                 on_sent: Callable[[Challenge], None] | None = None, watch: ActivityWatch | None = None):
        self._uow, self._vault, self._clock, self._counter, self._texts = uow, vault, clock, counter, texts
        self._watch = watch
        self._policy, self._lock_policy, self._guard = policy, lock_policy, guard
        self._on_sent = on_sent or (lambda challenge: None)

    def send(self, request: SendRequest, actor: Actor) -> Challenge:
        """Check every refusal, then store the challenge and queue its message in one transaction."""
        if self._watch is not None:
            self._watch.admit(request.agent_id or actor.agent_id, actor, "code_send")
        now = self._clock.now()
        counter = self._counter.state(request.account_id, now, self._lock_policy)
        with self._uow(write=True) as uow:
            customer = load_customer(uow, request.account_id, for_update=True)
            channel = self._refuse_or_channel(customer, request, now, counter)
            self._enforce_limits(uow, customer.account_id, now)
            destination = self._guard.destination_mac(customer.phone)
            self._guard.enforce_caps(uow.challenges, destination, actor.key_name, now)
            challenge = self._create(uow, customer, request, channel, now, actor, destination)
            uow.commit()
        self._on_sent(challenge)
        if self._watch is not None:
            self._watch.sent(challenge, actor)
        return challenge

    def _refuse_or_channel(self, customer: Customer, request: SendRequest, now: datetime,
                           counter: AttemptState) -> str:
        """409 for frozen, locked, SIM-swap hold or a refused destination; else the channel to use."""
        known = standing(customer, now, self._lock_policy, counter)
        if known.frozen:
            raise Conflict("The customer is frozen; no code is sent.", details={"reason": "frozen"})
        if known.locked:
            raise Conflict("The customer is locked after too many failed checks; no code is sent.",
                           details={"reason": "locked"})
        if request.channel is None and customer.second_factor == "totp":
            raise Conflict("The customer uses an authenticator app: ask for its current code, "
                           "or send channel \"sms\" explicitly.", details={"reason": "totp"})
        hold_end = customer.phone_changed_at + self._policy.phone_change_hold if customer.phone_changed_at else None
        if hold_end and now < hold_end:
            raise Conflict(f"The phone number changed recently; SMS codes are refused until "
                           f"{rfc3339_deadline(hold_end)} to guard against SIM swap.",
                           details={"reason": "phone_changed", "until": rfc3339_deadline(hold_end)})
        self._guard.check_destination(customer.phone, self._policy.allowed_countries)
        return request.channel or "sms"

    def _enforce_limits(self, uow: UnitOfWork, account_id: str, now: datetime) -> None:
        """429 within the resend cooldown or past the hourly cap."""
        recent = uow.challenges.sent_since(account_id, now - HOUR)
        if recent and now < recent[-1] + self._policy.resend_after:
            wait = (recent[-1] + self._policy.resend_after - now).total_seconds()
            raise RateLimited("A code was sent moments ago; wait before sending another.", retry_after=wait,
                              details={"reason": "resend_cooldown"})
        if len(recent) >= self._policy.max_sends_per_hour:
            wait = (recent[-self._policy.max_sends_per_hour] + HOUR - now).total_seconds()
            raise RateLimited("Too many codes sent to this customer in the last hour.", retry_after=wait,
                              details={"reason": "per_customer"})

    def _create(self, uow: UnitOfWork, customer: Customer, request: SendRequest, channel: str, now: datetime,
                actor: Actor, destination_mac: bytes) -> Challenge:
        """Supersede older codes, store the new one as a MAC, queue the message, audit."""
        uow.challenges.supersede_pending(customer.account_id, now)
        challenge_id, code = f"chl_{secrets.token_urlsafe(18)}", _generate_code()
        challenge = Challenge(
            challenge_id=challenge_id, account_id=customer.account_id, channel=channel,
            destination_masked=mask_phone(customer.phone), code_mac=self._vault.mac(mac_input(challenge_id, code)),
            created_at=now, expires_at=now + self._policy.ttl, resend_available_at=now + self._policy.resend_after,
            agent_id=request.agent_id, ticket_ref=request.ticket_ref, destination_mac=destination_mac,
            actor=actor.key_name)
        uow.challenges.add(challenge)
        text = render_code_message(self._texts.language(customer.locale), brand=self._policy.brand, code=code,
                                   ttl_seconds=int(self._policy.ttl.total_seconds()))
        payload = {"channel": channel, "to": customer.phone, "text": text, "locale": customer.locale}
        uow.outbox.add(new_message(self._vault, "sms", payload, now, account_id=customer.account_id,
                                   challenge_id=challenge_id, expires_at=challenge.expires_at))
        uow.audit.append(AuditEvent(
            event=AuditEventName.CODE_SENT, at=now, account_id=customer.account_id, actor=actor.key_name, ip=actor.ip,
            agent_id=request.agent_id or actor.agent_id, ticket_ref=request.ticket_ref,
            details={"challenge_id": challenge_id, "channel": channel, **phone_details(self._vault, customer.phone)}))
        return challenge

    def get(self, challenge_id: str) -> Challenge:
        """A challenge's status (never the code)."""
        with self._uow() as uow:
            challenge = uow.challenges.get(challenge_id)
        if challenge is None:
            raise NotFound(f"No code challenge {challenge_id!r}.")
        return challenge


class CodeFactor:
    """The `code` of a check: the pending (or named) SMS code, else the authenticator app's code."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, totp: TotpService, max_wrong: int):
        self._uow, self._vault, self._totp, self._max_wrong = uow, vault, totp, max_wrong

    def evaluate(self, customer: Customer, request: CheckRequest, now: datetime) -> FactorResult:
        """`match` (and the code is used up), `mismatch` or `expired`."""
        code, challenge_id = request.code or "", request.challenge_id
        totp = customer.totp is not None and challenge_id is None
        with self._uow(write=True) as uow:
            challenge = uow.challenges.get(challenge_id) if challenge_id else uow.challenges.latest(
                customer.account_id)
            pending = challenge is not None and challenge.status_at(now) == "pending"
            result = self._against(uow, customer, challenge, code, now) if pending or not totp else MISMATCH
            uow.commit()
        # The contract allows the pending SMS code *or* the app's current code (checked outside the
        # transaction above: SQLite allows one writer at a time).
        if result == MISMATCH and totp and self._totp.check(customer, code, now):
            return MATCH
        if result == MISMATCH and pending and challenge is not None and challenge.account_id == customer.account_id:
            with self._uow(write=True) as uow:
                uow.challenges.record_wrong(challenge.challenge_id, self._max_wrong)
                uow.commit()
        return result

    def _against(self, uow: UnitOfWork, customer: Customer, challenge: Challenge | None, code: str,
                 now: datetime) -> FactorResult:
        """Compare with one challenge and use the code up on a match (wrong entries are counted by the caller)."""
        if challenge is None or challenge.account_id != customer.account_id:
            return MISMATCH
        status = challenge.status_at(now)
        if status != ChallengeStatus.PENDING:
            return EXPIRED if status == ChallengeStatus.EXPIRED else MISMATCH
        if self._vault.mac_matches(mac_input(challenge.challenge_id, code), challenge.code_mac):
            return MATCH if uow.challenges.consume(challenge.challenge_id) else MISMATCH
        return MISMATCH
