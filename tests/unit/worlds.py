"""The code, TOTP and outbox services wired to fakes as bootstrap.py wires them to adapters (no database)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pyotp

from tests.fakes import FakeAttemptCounter, FakeClock, FakeUnitOfWorkFactory, OutboxRow
from verify_service.adapters.crypto import KeyRingVault
from verify_service.adapters.texts import BabelTexts
from verify_service.domain.approvals import ApprovalFactor, ApprovalPolicy, ApprovalService
from verify_service.domain.checks import CheckRequest, CheckService, PinFactor
from verify_service.domain.codes import CodeFactor, CodePolicy, CodeService, SendRequest
from verify_service.domain.customers import CustomerService
from verify_service.domain.delivery import DeliveryPolicy, OutboxService
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.locks import LockService
from verify_service.domain.model import Actor, Challenge, Customer
from verify_service.domain.names import FactorResult
from verify_service.domain.sms_guard import SmsCaps, SmsGuard
from verify_service.domain.totp import TotpService
from verify_service.errors import DeliveryFailed

ACCOUNT, PHONE = "JP1001", "+819012345678"
ACTOR = Actor("agent-key", "10.0.0.1")
POLICY = LockoutPolicy(threshold=5, window=timedelta(hours=24), lock_for=timedelta(hours=24))
VAULT = KeyRingVault.from_setting("t:" + "x" * 40)
TEXTS = BabelTexts()  # the shipped catalogs: what customers read is part of what these tests check


class FakeSender:
    """A gateway that records every message it was handed; it refuses the first `failures` of them."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.tried: list[str] = []
        self.delivered: list[tuple[str, dict[str, Any]]] = []
        self.while_sending: list[Any] = []  # callables run mid-send (another dispatcher, the clock moving on)

    def send(self, message_id: str, payload: dict[str, Any]) -> None:
        self.tried.append(message_id)
        while self.while_sending:
            self.while_sending.pop(0)()
        if self.failures:
            self.failures -= 1
            raise DeliveryFailed("gateway answered HTTP 503")
        self.delivered.append((message_id, payload))


def holds(text: str, digits: str) -> bool:
    """True when `digits` appear in `text` as a number of their own (not inside a longer one)."""
    return re.search(rf"(?<![0-9]){re.escape(digits)}(?![0-9])", text) is not None


@dataclass
class World:
    """Every service of one test, over one fake store."""

    clock: FakeClock
    uow: FakeUnitOfWorkFactory
    counter: FakeAttemptCounter
    customers: CustomerService
    locks: LockService
    codes: CodeService
    factor: CodeFactor
    totp: TotpService
    checks: CheckService
    sms: FakeSender
    events: FakeSender
    outbox: OutboxService
    approvals: ApprovalService
    sent: list[Challenge] = field(default_factory=list)
    results: list[tuple[str, str]] = field(default_factory=list)
    approval_outcomes: list[str] = field(default_factory=list)

    def send(self, account_id: str = ACCOUNT, **request: Any) -> Challenge:
        return self.codes.send(SendRequest(account_id, **request), ACTOR)

    def customer(self, account_id: str = ACCOUNT) -> Customer:
        return self.customers.get(account_id)

    def evaluate(self, code: str, challenge_id: str | None = None, account_id: str = ACCOUNT) -> FactorResult:
        request = CheckRequest(account_id, "phone", "agent-42", code=code, challenge_id=challenge_id)
        return self.factor.evaluate(self.customer(account_id), request, self.clock.now())

    def stored(self, challenge_id: str) -> Challenge:
        return self.uow.store.challenges[challenge_id]

    def rows(self) -> list[OutboxRow]:
        return self.uow.store.outbox

    def payload(self, row: OutboxRow) -> dict[str, Any]:
        """The message as the gateway would get it (the row holds it sealed)."""
        opened: dict[str, Any] = json.loads(VAULT.open(row.account_id or "-", row.payload, purpose="outbox"))
        return opened

    def code_of(self, challenge: Challenge) -> str:
        """The code the customer received for a challenge (read from its queued message)."""
        row = next(r for r in self.rows() if r.challenge_id == challenge.challenge_id)
        found = re.search(r"\b(\d{6})\b", self.payload(row)["text"])
        assert found is not None
        return found.group(1)

    def event_names(self) -> list[str]:
        return [e.event.event for e in self.uow.store.events]

    def audit_text(self) -> str:
        """Every stored audit event as text (the events, not their chain hashes)."""
        return repr([e.event for e in self.uow.store.events])

    def enrol_totp(self, account_id: str = ACCOUNT) -> pyotp.TOTP:
        """Enrol and confirm an authenticator app; the app (its secret) is returned."""
        uri = self.totp.enrol(account_id, ACTOR).otpauth_uri
        app = pyotp.parse_uri(uri)
        assert isinstance(app, pyotp.TOTP)
        self.totp.confirm(account_id, app.at(self.clock.now()), ACTOR)
        return app


def make_world(*, code_policy: CodePolicy | None = None, caps: SmsCaps | None = None,
               delivery: DeliveryPolicy | None = None, security_events: bool = False,
               approval_policy: ApprovalPolicy | None = None) -> World:
    """Services as bootstrap.build_services wires them, over fakes; one customer registered."""
    clock, counter = FakeClock(), FakeAttemptCounter()
    uow = FakeUnitOfWorkFactory(events_vault=VAULT if security_events else None)
    code_policy = code_policy or CodePolicy()
    totp = TotpService(uow=uow, vault=VAULT, clock=clock, issuer="Support")
    factor = CodeFactor(uow=uow, vault=VAULT, totp=totp, max_wrong=code_policy.max_wrong)
    sms, events = FakeSender(), FakeSender()
    sent: list[Challenge] = []
    results: list[tuple[str, str]] = []
    outcomes: list[str] = []
    checks = CheckService(uow=uow, counter=counter, clock=clock, policy=POLICY,
                          factors={"pin": PinFactor(vault=VAULT), "code": factor,
                                   "approval": ApprovalFactor(uow=uow, on_used=outcomes.append)},
                          ttl=timedelta(minutes=15))
    world = World(
        clock=clock, uow=uow, counter=counter,
        customers=CustomerService(uow=uow, vault=VAULT, clock=clock, default_locale="ja"),
        locks=LockService(uow=uow, counter=counter, clock=clock, policy=POLICY),
        codes=CodeService(uow=uow, vault=VAULT, clock=clock, counter=counter, policy=code_policy,
                          lock_policy=POLICY, guard=SmsGuard(caps=caps or SmsCaps(), vault=VAULT), texts=TEXTS,
                          on_sent=sent.append),
        factor=factor, totp=totp,
        checks=checks,
        sms=sms, events=events,
        outbox=OutboxService(uow=uow, vault=VAULT, clock=clock, senders={"sms": sms, "event": events},
                             policy=delivery or DeliveryPolicy(),
                             on_result=lambda kind, outcome: results.append((kind, outcome))),
        approvals=ApprovalService(uow=uow, clock=clock, counter=counter, checks=checks,
                                  policy=approval_policy or ApprovalPolicy(), lock_policy=POLICY, texts=TEXTS,
                                  on_event=outcomes.append),
        sent=sent, results=results, approval_outcomes=outcomes,
    )
    world.customers.register_or_update(ACCOUNT, {"phone": PHONE}, ACTOR)
    return world
