"""Push approval on the account page: the agent asks, the signed-in customer approves or denies.

An approved request is the code-level factor of a check (PIN + approval: level 2), used once. A deny is the
customer saying "it wasn't me": it counts as a failed attempt through CheckService, the same path (and the
same stored check record, which a forgotten Redis counter is rebuilt from) as a wrong PIN.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from verify_service.domain.brand import brand_name
from verify_service.domain.checks import CheckRequest, CheckService
from verify_service.domain.customers import load_customer
from verify_service.domain.lockout import LockoutPolicy
from verify_service.domain.model import Actor, Approval, AuditEvent, Customer, Verification, rfc3339_deadline
from verify_service.domain.names import ApprovalStatus, AuditEventName, FactorResult
from verify_service.domain.ports import (
    ActivityWatch,
    AttemptCounter,
    Clock,
    Texts,
    UnitOfWork,
    UnitOfWorkFactory,
    Words,
)
from verify_service.domain.standing import standing
from verify_service.errors import Conflict, NotFound, RateLimited

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
PENDING, APPROVED, DENIED, USED = (ApprovalStatus.PENDING, ApprovalStatus.APPROVED, ApprovalStatus.DENIED,
                                   ApprovalStatus.USED)
ANSWERS = {"approve": APPROVED, "deny": DENIED}


@dataclass(frozen=True)
class ApprovalPolicy:
    """Lifetime and per-customer cap of approval requests."""

    ttl: timedelta = timedelta(minutes=5)
    max_per_hour: int = 5
    brand: str = ""  # VERIFY_BRAND_NAME; unset: texts name "Customer Support" (domain.brand)


@dataclass(frozen=True)
class ApprovalAsk:
    """What an agent asked the customer to approve."""

    account_id: str
    reason: str
    agent_id: str
    channel: str
    ticket_ref: str | None = None


@dataclass(frozen=True)
class PendingApprovals:
    """What the account page shows: the pending requests and one sentence in the customer's locale."""

    account_id: str
    approvals: list[Approval]
    message: str


def render_pending_message(words: Words, *, brand: str, reason: str | None) -> str:
    """The account page's sentence: what Support asks to approve, or that nothing waits."""
    if reason is None:
        return words.gettext("There is nothing to approve.")
    return words.gettext("%(brand)s is asking you to approve: %(reason)s. Approve only if you are talking to "
                         "%(brand)s right now and you asked for this.", brand=brand_name(words, brand), reason=reason)


def _event(name: str, approval: Approval, at: datetime, actor: Actor | None, **details: object) -> AuditEvent:
    """An audit event about one approval request (the reason is not secret; it is what the customer saw)."""
    return AuditEvent(event=name, at=at, account_id=approval.account_id, actor=actor.key_name if actor else None,
                      agent_id=approval.agent_id, channel=approval.channel, ticket_ref=approval.ticket_ref,
                      ip=actor.ip if actor else None,
                      details={"approval_id": approval.approval_id, "reason": approval.reason, **details})


class ApprovalService:
    """Creates approval requests (with the push-bombing defences) and records the customer's answers."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, counter: AttemptCounter, checks: CheckService,
                 policy: ApprovalPolicy, lock_policy: LockoutPolicy, texts: Texts,
                 on_event: Callable[[str], None] | None = None, watch: ActivityWatch | None = None):
        self._uow, self._clock, self._counter, self._checks, self._texts = uow, clock, counter, checks, texts
        self._policy, self._lock_policy, self._watch = policy, lock_policy, watch
        self._on_event = on_event or (lambda outcome: None)

    def request(self, ask: ApprovalAsk, actor: Actor) -> Approval:
        """Admitted by the agent watch (agent_id allowed, not blocked), which counts the customer; see `_request`."""
        if self._watch is None:
            return self._request(ask, actor)
        with self._watch.acting(ask.account_id, ask.agent_id, actor, "approval_request"):
            return self._request(ask, actor)

    def _request(self, ask: ApprovalAsk, actor: Actor) -> Approval:
        """Refuse a locked or frozen customer and a full hourly cap; else supersede older requests and store."""
        now = self._clock.now()
        counter = self._counter.state(ask.account_id, now, self._lock_policy)
        with self._uow(write=True) as uow:
            customer = load_customer(uow, ask.account_id, for_update=True)  # serialises one customer's requests
            known = standing(customer, now, self._lock_policy, counter)
            if known.frozen:
                raise Conflict("The customer is frozen; no approval request is sent.")
            if known.locked:
                raise Conflict("The customer is locked after too many failed checks; no approval request is sent.")
            self._enforce_cap(uow, customer.account_id, now)
            superseded = uow.approvals.supersede_pending(customer.account_id, now)
            approval = Approval(
                approval_id=f"apr_{secrets.token_urlsafe(18)}", account_id=customer.account_id, reason=ask.reason,
                agent_id=ask.agent_id, channel=ask.channel, ticket_ref=ask.ticket_ref, created_at=now,
                expires_at=now + self._policy.ttl, actor=actor.key_name)
            uow.approvals.add(approval)
            uow.audit.append(_event(AuditEventName.APPROVAL_REQUESTED, approval, now, actor,
                                    expires_at=rfc3339_deadline(approval.expires_at), superseded=superseded))
            uow.commit()
        self._on_event("requested")
        return approval

    def _enforce_cap(self, uow: UnitOfWork, account_id: str, now: datetime) -> None:
        """429 past the hourly cap of requests per customer (MFA fatigue: no flood of prompts)."""
        recent = uow.approvals.created_since(account_id, now - HOUR)
        if len(recent) >= self._policy.max_per_hour:
            wait = (recent[-self._policy.max_per_hour] + HOUR - now).total_seconds()
            raise RateLimited("Too many approval requests for this customer in the last hour.", retry_after=wait)

    def pending(self, account_id: str) -> PendingApprovals:
        """The customer's pending requests, newest first, and the sentence the account page shows."""
        now = self._clock.now()
        with self._uow() as uow:
            customer = load_customer(uow, account_id)
            found = uow.approvals.pending(account_id, now)
        reason = found[0].reason if found else None
        return PendingApprovals(account_id, found, render_pending_message(
            self._texts.language(customer.locale), brand=self._policy.brand, reason=reason))

    def get(self, approval_id: str, account_id: str | None = None) -> Approval:
        """A request by id (with `account_id`, only that customer's), or NotFound."""
        with self._uow() as uow:
            found = uow.approvals.get(approval_id)
        if found is None or (account_id is not None and found.account_id != account_id):
            raise NotFound(f"No approval request {approval_id!r}.")
        return found

    def answer(self, account_id: str, approval_id: str, answer: str, actor: Actor) -> Approval:
        """Approve or deny a pending, unexpired request of this customer (409 otherwise)."""
        now = self._clock.now()
        with self._uow(write=True) as uow:
            load_customer(uow, account_id)
            approval = uow.approvals.get(approval_id)
            if approval is None or approval.account_id != account_id:
                raise NotFound(f"No approval request {approval_id!r}.")
            self._refuse_unanswerable(approval, now)
            if not uow.approvals.transition(approval_id, PENDING, ANSWERS[answer], now):
                raise Conflict("The approval request was answered or replaced meanwhile.",
                               details={"reason": "not_pending"})
            if answer == "approve":
                uow.audit.append(_event(AuditEventName.APPROVAL_APPROVED, approval, now, actor))
            uow.commit()
        if answer == "deny":
            self._count_denial(approval, now, actor)
        self._on_event("approved" if answer == "approve" else "denied")
        return self.get(approval_id)

    @staticmethod
    def _refuse_unanswerable(approval: Approval, now: datetime) -> None:
        """Only a pending request inside its lifetime can be answered."""
        status = approval.status_at(now)
        if status == ApprovalStatus.EXPIRED:
            raise Conflict("The approval request has expired; ask Support to send a new one.",
                           details={"reason": "expired"})
        if status != PENDING:
            raise Conflict(f"The approval request is already {status}; it cannot be answered.",
                           details={"reason": "not_pending", "status": status})

    def _count_denial(self, approval: Approval, now: datetime, actor: Actor) -> None:
        """The deny is a rejected check (CheckService: same counter, lock and stored record); then audit it."""
        request = CheckRequest(account_id=approval.account_id, channel=approval.channel, agent_id=approval.agent_id,
                               approval_id=approval.approval_id, ticket_ref=approval.ticket_ref)
        try:
            verification = self._checks.check(request, actor)
        except Exception:
            # Nothing was counted: put the request back so the customer's retry of the deny counts once.
            self._reopen(approval.approval_id, now)
            raise
        with self._uow(write=True) as uow:
            uow.audit.append(_event(AuditEventName.APPROVAL_DENIED, approval, now, actor,
                                    **_denial_details(verification)))
            uow.commit()

    def _reopen(self, approval_id: str, now: datetime) -> None:
        """Undo a deny whose count failed (best effort: the store may be down too)."""
        try:
            with self._uow(write=True) as uow:
                uow.approvals.transition(approval_id, DENIED, PENDING, now)
                uow.commit()
        except Exception:
            log.warning("a deny whose count failed could not be reopened")


def _denial_details(verification: Verification) -> dict[str, object]:
    """What the approval_denied event says about the failed attempt the deny counted."""
    return {"verification_id": verification.verification_id, "result": verification.result,
            "attempts_remaining": verification.attempts_remaining,
            "locked_until": rfc3339_deadline(verification.locked_until) if verification.locked_until else None}


class ApprovalFactor:
    """The `approval_id` of a check: an approved, unused, unexpired request of this customer, used up once."""

    def __init__(self, *, uow: UnitOfWorkFactory, on_used: Callable[[str], None] | None = None):
        self._uow = uow
        self._on_used = on_used or (lambda outcome: None)

    def evaluate(self, customer: Customer, request: CheckRequest, now: datetime) -> FactorResult:
        """`match` (and the request is used), `mismatch` or `expired`; a pending request is a 409, uncounted."""
        with self._uow(write=True) as uow:
            approval = uow.approvals.get(request.approval_id or "")
            if approval is None or approval.account_id != customer.account_id:
                return FactorResult.MISMATCH
            status = approval.status_at(now)
            if status == PENDING:
                raise Conflict("The customer has not answered the approval request yet; check again after "
                               "they approve it.", details={"reason": "approval_pending"})
            if status == ApprovalStatus.EXPIRED:
                return FactorResult.EXPIRED
            if status == USED and _a_repeat(approval, request, now):
                raise Conflict("This approval was used by a check a moment ago; that check's answer stands.",
                               details={"reason": "approval_used"})
            if status != APPROVED or not uow.approvals.transition(approval.approval_id, APPROVED, USED, now):
                return FactorResult.MISMATCH
            uow.audit.append(AuditEvent(
                event=AuditEventName.APPROVAL_USED, at=now, account_id=customer.account_id,
                agent_id=request.agent_id, channel=request.channel, ticket_ref=request.ticket_ref,
                details={"approval_id": approval.approval_id, "reason": approval.reason}))
            uow.commit()
        self._on_used("used")
        return FactorResult.MATCH


def _a_repeat(approval: Approval, request: CheckRequest, now: datetime) -> bool:
    """A guarded check (the console's) by the agent who asked, inside the request's lifetime: a double submit."""
    return request.repeat_guard and approval.agent_id == request.agent_id and now < approval.expires_at
