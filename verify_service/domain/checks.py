"""Caller verification checks: evaluate factors, apply the lockout rule, keep a record."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from verify_service.domain.agent_watch import CarriedAct
from verify_service.domain.customers import closed_error, load_customer
from verify_service.domain.lockout import LockoutPolicy, attempts_remaining, from_ms, to_ms
from verify_service.domain.model import Actor, AuditEvent, ChecksQuery, Customer, Verification, rfc3339_deadline
from verify_service.domain.names import AuditEventName, CheckResult, Entry, FactorResult
from verify_service.domain.ports import (
    ActivityWatch,
    AttemptCounter,
    CheckRecorder,
    Clock,
    PinVault,
    UnitOfWork,
    UnitOfWorkFactory,
)
from verify_service.domain.standing import standing
from verify_service.domain.unsettled import UnsettledCount, UnsettledCounts
from verify_service.errors import Conflict, DependencyUnavailable, NotFound, UncertainWrite

log = logging.getLogger(__name__)
MATCH, MISMATCH, EXPIRED, NOT_CHECKED = (FactorResult.MATCH, FactorResult.MISMATCH, FactorResult.EXPIRED,
                                       FactorResult.NOT_CHECKED)
FACTOR_ORDER = ("pin", "code", "approval")
BASE_FACTORS = ("pin", "code")  # always in the answer; `approval` only when one was given (the contract's shape)


@dataclass(frozen=True)
class CheckRequest:
    """What an agent typed in, and where the check happened."""

    account_id: str
    channel: str
    agent_id: str
    pin: str | None = None
    code: str | None = None
    challenge_id: str | None = None
    ticket_ref: str | None = None
    approval_id: str | None = None
    entry: str = Entry.AGENT  # who typed the PIN: the agent, the caller's keypad or an entry link page
    call_ref: str | None = None
    # The console's double-submit guard: a used approval of this same agent, still inside its lifetime, is a repeat
    # of the check that used it (409 `approval_used`, nothing counted), not a failed attempt.
    repeat_guard: bool = False

    @property
    def approval(self) -> str | None:
        """The approval factor as FACTOR_ORDER names it."""
        return self.approval_id


class Factor(Protocol):
    """One kind of evidence a caller can give (PIN, one-time code)."""

    def evaluate(self, customer: Customer, request: CheckRequest, now: datetime) -> FactorResult:
        """`match`, `mismatch` or `expired`; only called when the factor was given."""
        ...


class PinFactor:
    """The support PIN, compared in constant time against the sealed one."""

    def __init__(self, *, vault: PinVault):
        self._vault = vault

    def evaluate(self, customer: Customer, request: CheckRequest, now: datetime) -> FactorResult:
        """Match the typed PIN against the customer's."""
        if customer.pin is None or request.pin is None:
            return MISMATCH
        return MATCH if self._vault.matches(customer.account_id, customer.pin, request.pin) else MISMATCH


@dataclass(frozen=True)
class _Outcome:
    """The result of the lockout step for one check."""

    result: str
    failures: int = 0
    locked_until: datetime | None = None
    locked_now: bool = False
    from_counter: bool = False

    @property
    def lock_to_persist(self) -> bool:
        """The counter knows a lock the customer row may not have yet (new, or lost to a failed write)."""
        return self.from_counter and self.locked_until is not None


class CheckService:
    """Answers "is this caller the account holder?" and keeps the record."""

    def __init__(self, *, uow: UnitOfWorkFactory, counter: AttemptCounter, clock: Clock,
                 policy: LockoutPolicy, factors: Mapping[str, Factor], ttl: timedelta, separate_counter: bool = False,
                 recorder: CheckRecorder | None = None, on_checked: Callable[[Verification], None] | None = None,
                 watch: ActivityWatch | None = None, on_unwatched: Callable[[], None] | None = None,
                 agent_pin_entry: bool = True):
        self._uow, self._counter, self._clock = uow, counter, clock
        self._agent_pin_entry = agent_pin_entry
        self._watch = watch
        self._policy, self._factors, self._ttl = policy, factors, ttl
        self._separate_counter, self._recorder = separate_counter, recorder
        self._on_checked = on_checked or (lambda verification: None)
        self._on_unwatched = on_unwatched or (lambda: None)
        self.unsettled = UnsettledCounts()

    def check(self, request: CheckRequest, actor: Actor) -> Verification:
        """Evaluate the given factors under the lockout rule and record the answer."""
        if request.pin is not None and request.entry == Entry.AGENT and not self._agent_pin_entry:
            raise agent_pin_refused()
        if self._watch is not None:  # a refused agent's check evaluates nothing and counts no failure
            self._watch.admit(request.agent_id, actor)
        self.settle()  # before counting, so this check's answer knows no count of a 503
        now = self._clock.now()
        with self._uow() as uow:
            customer = load_customer(uow, request.account_id)
        verification_id = f"ver_{secrets.token_urlsafe(18)}"
        # The agent watch's count rides on the lockout count where one store holds both (one round trip).
        carried = None if self._watch is None else \
            self._watch.carry_check(request.agent_id, actor, request.account_id, verification_id)
        given = [name for name in FACTOR_ORDER if getattr(request, name) is not None]
        factors = dict.fromkeys(given, NOT_CHECKED)
        known = standing(customer, now, self._policy)  # the counter's lock comes back from the counting step
        if known.frozen:
            outcome = _Outcome(CheckResult.FROZEN)
        elif known.locked_until is not None:
            outcome = _Outcome(CheckResult.LOCKED, locked_until=known.locked_until)
        else:
            factors = {name: self._factors[name].evaluate(customer, request, now) for name in given}
            outcome = self._counted(customer.account_id, factors, now, carried, verification_id)
            if outcome.result == CheckResult.LOCKED:
                factors = dict.fromkeys(given, NOT_CHECKED)
        verification = self._verification(verification_id, request, actor, factors, outcome, now)
        try:
            self._record(verification, outcome, actor, now)
        except Exception:
            self._uncount(request.account_id, outcome, now, carried, verification_id)
            raise
        self._on_checked(verification)
        if self._watch is not None:
            self._watched(verification, actor, carried)
        return verification

    def _watched(self, verification: Verification, actor: Actor, carried: CarriedAct | None) -> None:
        """Tell the agent watch (when the counter did not carry the act): best effort, the check is recorded now.

        A failure here must not turn a stored check into a 503; it is logged and counted (a metric) instead.
        """
        assert self._watch is not None
        try:
            self._watch.checked(verification, actor, carried)
        except DependencyUnavailable as error:
            log.warning("the agent watch could not count a recorded check: %s", type(error).__name__)
            self._on_unwatched()

    def _uncount(self, key: str, outcome: _Outcome, now: datetime, carried: CarriedAct | None,
                 check_id: str) -> None:
        """A check whose record could not be written counts nothing: undo its failure, now or once the counter answers.

        With it goes the act the counter carried for the agent watch, so an outage cannot raise a failures anomaly.
        """
        if outcome.result != CheckResult.REJECTED:
            return
        try:
            self._counter.forget_failure(key, now, self._policy, carried, check_id)
        except Exception:  # the counter is down too: the original error is what the caller gets
            log.warning("a failure whose check was not recorded is kept to uncount later")
            self.unsettled.add(UnsettledCount(key, now, check_id, carried))

    def _counted(self, key: str, factors: dict[str, FactorResult], now: datetime, carried: CarriedAct | None,
                 check_id: str) -> _Outcome:
        """The lockout step; a count that timed out (it may still happen) is kept to be taken back later."""
        try:
            return self._apply_lockout(key, factors, now, carried, check_id)
        except UncertainWrite:
            self.unsettled.add(UnsettledCount(key, now, check_id, carried))
            raise

    def settle(self) -> None:
        """Take back the counts of checks answered 503 after a timeout, once the counter answers again.

        Each is undone by its check's id: a failure that ran is removed with the lock it set, one still on its
        way is cancelled. Stops at the first that fails (the counter is still away) and keeps the rest.
        """
        if not len(self.unsettled):
            return
        waiting = self.unsettled.take()
        for index, item in enumerate(waiting):
            try:
                self._settle_one(item)
            except Exception as error:  # the counter or the database is still away: keep the rest for later
                log.warning("unsettled counts wait for the counter: %s", type(error).__name__)
                self.unsettled.put_back(waiting[index + 1:])
                return

    def _settle_one(self, item: UnsettledCount) -> None:
        """Undo one count by its check's id, then the customer row's copy of the lock it set, if any.

        What is left to do is kept when a step fails (a failure taken back still needs its lock withdrawn).
        """
        try:
            if not item.taken_back:
                if not self._counter.forget_failure(item.key, item.at, self._policy, item.carried, item.check_id):
                    return  # it never ran, and now never will
                item = replace(item, taken_back=True)
            self._withdraw_lock(item)
        except Exception:
            self.unsettled.add(item)
            raise

    def _withdraw_lock(self, item: UnsettledCount) -> None:
        """A check elsewhere may have copied the withdrawn failure's lock to the customer row: clear it, audited."""
        until = from_ms(to_ms(item.at) + self._policy.lock_ms)
        with self._uow() as uow:
            customer = uow.customers.get(item.key)
        if customer is None or customer.locked_until != until:
            return
        with self._uow(write=True) as uow:
            customer = uow.customers.get(item.key, for_update=True)
            if customer is None or customer.locked_until != until:
                return
            customer.locked_until = None
            uow.customers.save(customer)
            uow.audit.append(AuditEvent(event=AuditEventName.CUSTOMER_UNLOCKED, at=self._clock.now(),
                                        account_id=item.key, actor="system",
                                        details={"reason": "the failure that set the lock was answered 503",
                                                 "verification_id": item.check_id, "withdrawn": True}))
            uow.commit()
        log.warning("a lock set by a failure answered 503 was withdrawn from the customer row")

    def _apply_lockout(self, key: str, factors: dict[str, FactorResult], now: datetime,
                       carried: CarriedAct | None, check_id: str) -> _Outcome:
        """Count a failure or reset the count, atomically against every instance (once for `check_id`)."""
        if all(value == MATCH for value in factors.values()):
            locked_until = self._counter.record_success(key, now, self._policy, carried, check_id)
            if locked_until is not None:
                return _Outcome(CheckResult.LOCKED, locked_until=locked_until, from_counter=True)
            return _Outcome(CheckResult.VERIFIED)
        failure = self._counter.record_failure(key, now, self._policy, carried, check_id)
        if not failure.counted:
            return _Outcome(CheckResult.LOCKED, failure.failures, failure.locked_until, from_counter=True)
        return _Outcome(CheckResult.REJECTED, failure.failures, failure.locked_until, failure.locked_now,
                        from_counter=True)

    def _verification(self, verification_id: str, request: CheckRequest, actor: Actor,
                      factors: dict[str, FactorResult], outcome: _Outcome, now: datetime) -> Verification:
        """Build the record the agent and downstream systems see."""
        verified = outcome.result == CheckResult.VERIFIED
        return Verification(
            verification_id=verification_id, account_id=request.account_id,
            verified=verified, result=outcome.result,
            factors={name: factors.get(name, NOT_CHECKED) for name in FACTOR_ORDER
                     if name in BASE_FACTORS or name in factors},
            level=len(factors) if verified else 0,
            attempts_remaining=attempts_remaining(outcome.result, outcome.failures, self._policy),
            locked_until=outcome.locked_until, checked_at=now,
            valid_until=now + self._ttl if verified else None,
            channel=request.channel, agent_id=request.agent_id, ticket_ref=request.ticket_ref,
            actor=actor.key_name, entry=request.entry, call_ref=request.call_ref)

    def _record(self, verification: Verification, outcome: _Outcome, actor: Actor, now: datetime) -> None:
        """Store the record, its audit events and the durable lock in one transaction.

        Without a lock to persist, the record and its event are one durable write where the store can do that.
        """
        if self._recorder is not None and not outcome.lock_to_persist:
            if self._recorder.record(verification, _check_event(verification, actor)):
                return
        with self._uow(write=True) as uow:
            # Lock order everywhere: customer row, then audit head.
            customer = load_customer(uow, verification.account_id, for_update=True) \
                if outcome.lock_to_persist else None
            uow.verifications.add(verification)
            uow.audit.append(_check_event(verification, actor))
            if customer is not None:
                self._persist_lock(uow, customer, verification, outcome, actor, now)
            uow.commit()

    def _persist_lock(self, uow: UnitOfWork, customer: Customer, verification: Verification, outcome: _Outcome,
                      actor: Actor, now: datetime) -> None:
        """Copy the counter's lock onto the customer row, so it survives a Redis restart."""
        until = outcome.locked_until
        assert until is not None
        if customer.locked_until == until or self._unlocked_since(customer, until, now):
            return
        customer.locked_until = until
        uow.customers.save(customer)
        uow.audit.append(AuditEvent(
            event=AuditEventName.CUSTOMER_LOCKED, at=now, account_id=verification.account_id, actor=actor.key_name,
            agent_id=verification.agent_id, channel=verification.channel,
            ticket_ref=verification.ticket_ref, ip=actor.ip,
            details={"locked_until": rfc3339_deadline(until), "failed_attempts": self._policy.threshold,
                     "verification_id": verification.verification_id, "entry": verification.entry,
                     "repaired": not outcome.locked_now}))

    def _unlocked_since(self, customer: Customer, until: datetime, now: datetime) -> bool:
        """An unlock cleared this lock after it was set (checked under the customer row's lock)."""
        if self._separate_counter:
            # An unlock clears the counter before it takes the row we hold: a counter that no longer
            # holds this lock means an unlock won the race. (Not asked of a counter in this same database:
            # a second connection inside this write transaction could starve the pool.)
            return self._counter.state(customer.account_id, now, self._policy).locked_until != until
        # One instance, one clock: an unlock stamps unlocked_at after clearing the counter.
        began = until - self._policy.lock_for
        return customer.unlocked_at is not None and customer.unlocked_at >= began

    def of_call(self, call_ref: str, limit: int) -> list[Verification]:
        """The checks made on one phone call (Twilio's CallSid, a platform's contact id), newest first; those of
        closed accounts are left out (they confirm nobody any more)."""
        with self._uow() as uow:
            found = uow.verifications.of_call(call_ref, limit)
            accounts = {check.account_id for check in found}
            closed = {account for account in accounts if (customer := uow.customers.get(account)) and customer.closed}
        return [check for check in found if check.account_id not in closed]

    def page(self, query: ChecksQuery) -> tuple[list[Verification], tuple[datetime, str] | None]:
        """An agent_id's or a key's checks, newest first, and where the next page starts (None at the end)."""
        with self._uow() as uow:
            found = uow.verifications.page(replace(query, limit=query.limit + 1))  # one more: is there a next?
        if len(found) <= query.limit:
            return found, None
        last = found[query.limit - 1]
        return found[:query.limit], (last.checked_at, last.verification_id)

    def get(self, verification_id: str) -> Verification:
        """A stored check by id, or NotFound."""
        with self._uow() as uow:
            found = uow.verifications.get(verification_id)
            if found is None:
                raise NotFound(f"No verification {verification_id!r}.")
            # A check that raced the account's closure must not confirm anyone afterwards: 410, like every call.
            customer = uow.customers.get(found.account_id)
        if customer is not None and customer.closed:
            raise closed_error(customer)
        return found


def agent_pin_refused() -> Conflict:
    """The 409 of a PIN typed by an agent while VERIFY_AGENT_PIN_ENTRY is false (nothing is counted)."""
    return Conflict("PINs typed by agents are turned off here: the caller enters the PIN on the phone's keypad "
                    "or on an entry link.",
                    details={"reason": "keypad_or_link_entry_required",
                             "entries": [Entry.KEYPAD.value, Entry.LINK.value]})


_CHECK_EVENTS = {CheckResult.VERIFIED: AuditEventName.VERIFICATION_SUCCEEDED,
                 CheckResult.REJECTED: AuditEventName.VERIFICATION_FAILED}


def _check_event(verification: Verification, actor: Actor) -> AuditEvent:
    """The audit event of a check (never the PIN or code typed)."""
    return AuditEvent(
        event=_CHECK_EVENTS.get(CheckResult(verification.result), AuditEventName.VERIFICATION_BLOCKED),
        at=verification.checked_at,
        account_id=verification.account_id, actor=actor.key_name, agent_id=verification.agent_id,
        channel=verification.channel, ticket_ref=verification.ticket_ref, ip=actor.ip,
        details={"verification_id": verification.verification_id, "result": verification.result,
                 "factors": verification.factors, "level": verification.level,
                 "attempts_remaining": verification.attempts_remaining, "entry": verification.entry,
                 **({"call_ref": verification.call_ref} if verification.call_ref is not None else {})})
