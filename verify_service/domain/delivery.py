"""The durable outbox: queue messages in the caller's transaction, deliver with retries, never twice at once."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from verify_service.domain.audit import ANCHOR_EVENT, receipt_time, sign_receipt
from verify_service.domain.model import AuditEvent, OutboxMessage, rfc3339
from verify_service.domain.names import AuditEventName
from verify_service.domain.ports import (
    AuditLog,
    ChainSigner,
    Clock,
    MessageSender,
    PinVault,
    UnitOfWork,
    UnitOfWorkFactory,
)
from verify_service.errors import DeliveryFailed

log = logging.getLogger(__name__)

SECURITY_EVENTS = frozenset({"customer_locked", "customer_unlocked", "customer_frozen", "pin_viewed",
                             "pin_rotated", "phone_changed", "totp_enrolled", "contact_reported",
                             "approval_requested", "approval_denied", "agent_anomaly", "agent_anomaly_cleared",
                             "entry_link_created", "customer_closed"})
NO_ACCOUNT = "-"
MAX_BACKOFF_SECONDS = 60


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... capped at a minute."""
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts - 1)))


def new_message(vault: PinVault, kind: str, payload: dict[str, Any], now: datetime, *,
                account_id: str | None = None, challenge_id: str | None = None,
                expires_at: datetime | None = None) -> OutboxMessage:
    """An outbox row whose payload is sealed under the key ring (SMS texts hold codes)."""
    message_id = f"msg_{secrets.token_urlsafe(18)}"
    sealed = vault.seal(account_id or NO_ACCOUNT, json.dumps(payload, ensure_ascii=False), purpose="outbox")
    return OutboxMessage(message_id=message_id, kind=kind, payload=sealed, created_at=now, next_attempt_at=now,
                         account_id=account_id, challenge_id=challenge_id, expires_at=expires_at)


class SecurityEventAuditLog:
    """An AuditLog that also queues the contract's security events for the events webhook."""

    def __init__(self, inner: AuditLog, uow: UnitOfWork, vault: PinVault):
        self._inner, self._uow, self._vault = inner, uow, vault
        self.query, self.chains, self.heads = inner.query, inner.chains, inner.heads
        self.claim_anchor = inner.claim_anchor
        self.anchor_receipt, self.keep_anchor_receipt = inner.anchor_receipt, inner.keep_anchor_receipt

    def append(self, event: AuditEvent) -> Any:
        """Chain the event; queue its security event in the same transaction."""
        chained = self._inner.append(event)
        name = event.event
        if name == "customer_updated" and event.details.get("phone_changed"):
            name = "phone_changed"
        if name in SECURITY_EVENTS:
            payload = {"event_id": f"evt_{chained.id}", "event": name, "account_id": event.account_id,
                       "at": rfc3339(event.at), "details": event.details}
            self._uow.outbox.add(new_message(self._vault, "event", payload, event.at, account_id=event.account_id))
        return chained


@dataclass(frozen=True)
class DeliveryPolicy:
    """How long to keep trying, and how long one worker's claim lasts."""

    give_up: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(seconds=90)
    batch: int = 10


class OutboxService:
    """Delivers due messages through the sender for their kind."""

    def __init__(self, *, uow: UnitOfWorkFactory, vault: PinVault, clock: Clock,
                 senders: Mapping[str, MessageSender], policy: DeliveryPolicy,
                 on_result: Callable[[str, str], None] | None = None,
                 on_delivered: Callable[[UnitOfWork, dict[str, Any]], None] | None = None):
        self._uow, self._vault, self._clock, self._senders = uow, vault, clock, senders
        self._policy, self._on_result = policy, on_result or (lambda kind, outcome: None)
        self._on_delivered = on_delivered  # told of each payload delivered, in the transaction recording it

    def dispatch_due(self) -> int:
        """Claim and try every due message once; the number tried."""
        now, token = self._clock.now(), secrets.token_hex(16)
        with self._uow(write=True) as uow:
            claimed = uow.outbox.claim_due(now, self._policy.batch, now + self._policy.lease, token)
            uow.commit()
        for message in claimed:
            self._deliver(message)
        return len(claimed)

    def backlog(self) -> tuple[int, datetime | None]:
        """Pending messages and the oldest one's age."""
        with self._uow() as uow:
            return uow.outbox.backlog()

    def _deliver(self, message: OutboxMessage) -> None:
        """One attempt: send, then record sent, retry later, or give up."""
        now = self._clock.now()
        if message.expires_at is not None and now >= message.expires_at:
            self._give_up(message, now, "the code expired before it could be delivered")
            return
        if message.challenge_id is not None and self._code_retired(message.challenge_id, now):
            # A newer code replaced it (or it was used or killed): sending it would only confuse.
            self._record(message, "failed", status="failed", last_error="the code was replaced before delivery")
            return
        try:
            payload = json.loads(self._vault.open(message.account_id or NO_ACCOUNT, message.payload,
                                                  purpose="outbox"))
            self._senders[message.kind].send(message.message_id, payload)
        except DeliveryFailed as error:
            self._retry_or_give_up(message, self._clock.now(), str(error))
            return
        except Exception as error:  # one bad message (no sender, unreadable payload) must not jam the rest
            log.exception("outbox: %s %s could not be handled", message.kind, message.message_id)
            self._retry_or_give_up(message, self._clock.now(), f"cannot deliver: {type(error).__name__}")
            return
        self._record(message, "sent", delivered=payload, status="sent", attempts=message.attempts + 1,
                     sent_at=self._clock.now())

    def _code_retired(self, challenge_id: str, now: datetime) -> bool:
        """True when the message's code can no longer be used."""
        with self._uow() as uow:
            challenge = uow.challenges.get(challenge_id)
        return challenge is None or challenge.status_at(now) in ("superseded", "verified", "killed")

    def _retry_or_give_up(self, message: OutboxMessage, now: datetime, reason: str) -> None:
        """Back off, unless the message has waited too long."""
        attempts = message.attempts + 1
        log.warning("delivery of %s %s failed (attempt %d): %s", message.kind, message.message_id, attempts, reason)
        # Security events have no expiry and are never dropped; SMS messages give up after a while.
        if message.kind != "event" and now - message.created_at >= self._policy.give_up:
            self._give_up(message, now, reason, attempts=attempts)
            return
        self._record(message, "retry", attempts=attempts, next_attempt_at=now + backoff(attempts),
                     last_error=reason[:200])

    def _give_up(self, message: OutboxMessage, now: datetime, reason: str, *, attempts: int | None = None) -> None:
        """Mark failed; a code message's failure is audited as code_delivery_failed."""
        log.error("giving up on %s %s: %s", message.kind, message.message_id, reason)
        event = None
        if message.challenge_id is not None:
            event = AuditEvent(event=AuditEventName.CODE_DELIVERY_FAILED, at=now, account_id=message.account_id,
                               details={"challenge_id": message.challenge_id, "message_id": message.message_id,
                                        "reason": reason[:200]})
        self._record(message, "failed", event=event, status="failed", last_error=reason[:200],
                     attempts=message.attempts if attempts is None else attempts)

    def _record(self, message: OutboxMessage, outcome: str, *, event: AuditEvent | None = None,
                delivered: dict[str, Any] | None = None, **values: Any) -> None:
        """Write the attempt's result (and the challenge's delivery state) while holding the lease."""
        with self._uow(write=True) as uow:
            if not uow.outbox.finish(message, **values):
                log.warning("lease on %s expired before its result was recorded", message.message_id)
                return
            if message.challenge_id is not None and outcome in ("sent", "failed"):
                uow.challenges.set_delivery(message.challenge_id, outcome)
            if event is not None:
                uow.audit.append(event)
            if delivered is not None and self._on_delivered is not None:
                self._on_delivered(uow, delivered)
            uow.commit()
        self._on_result(message.kind, outcome)


class OutboxAnchorSink:
    """Sends each scheduled anchor to the events webhook as an `audit_anchor` event, through the outbox.

    The outbox lives in the database, so its state proves nothing to someone who can write there. What this
    sink trusts instead is a receipt MAC'd with the audit key when the webhook accepted an anchor: a database
    writer cannot make it newer (only older, which shows), but the receipt says the receiver answered 2xx, not
    what it kept. Prefer the anchor file.
    """

    def __init__(self, vault: PinVault, signer: ChainSigner):
        self._vault, self._signer = vault, signer

    def write(self, document: dict[str, Any], uow: UnitOfWork) -> None:
        """Queue the anchor in the transaction that took it."""
        at = datetime.fromisoformat(str(document["at"]).replace("Z", "+00:00"))
        payload = {"event_id": f"anc_{secrets.token_urlsafe(12)}", "event": ANCHOR_EVENT, "account_id": None,
                   "at": document["at"], "details": document}
        uow.outbox.add(new_message(self._vault, "event", payload, at))

    def delivered(self, uow: UnitOfWork, payload: dict[str, Any]) -> None:
        """Keep a signed receipt when the webhook accepted an anchor (other payloads are ignored)."""
        if payload.get("event") != ANCHOR_EVENT:
            return
        at = datetime.fromisoformat(str(payload["at"]).replace("Z", "+00:00"))
        uow.audit.keep_anchor_receipt(sign_receipt(self._signer, at))

    def newest(self, uow: UnitOfWorkFactory) -> datetime | None:
        """The newest anchor the webhook accepted, by its signed receipt."""
        with uow() as unit:
            return receipt_time(self._signer, unit.audit.anchor_receipt())
