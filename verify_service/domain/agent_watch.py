"""Agent misuse detection: per agent_id and per API key, checks, failures and distinct customers in a window.

Over a threshold the service raises one `agent_anomaly` per episode (raised until a supervisor clears it), and
with `block` refuses, until then, the agent's (or key's) every act that makes a customer trust a caller or shows
a customer's state (ACTIONS). Before any act, the credential must be allowed the agent_id it asserts.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from verify_service.domain.agent_identity import AgentIdentity
from verify_service.domain.model import Actor, AuditEvent, Challenge, Verification
from verify_service.domain.names import AnomalyKind, AnomalySubject, AuditEventName, CheckResult
from verify_service.errors import Conflict, DependencyUnavailable, NotFound, RateLimited

if TYPE_CHECKING:
    from verify_service.domain.ports import AgentActivity, Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)
AGENT_ROLE = "agent"
KEYPAD_ROLE = "ivr"  # voice platforms' flows: the caller types the PIN, so the key (not an agent) is watched
# What a blocked agent or key is refused (each also counts its customer in the window); entry links are made under
# `acting(..., "entry_link")` (domain/entry_links.py), and a blocked agent's open links stop working too.
ACTIONS = ("check", "code_send", "contact_start", "approval_request", "lock_view", "summary_read", "entry_link")
# Acts that are stored by the time they are counted: a store that cannot count them then must not turn the stored
# act into a 503 (the client would retry a contact, a request or a link that exists). Reads stay fail-closed:
# what is not counted is not shown.
STORED_ACTS = frozenset({"contact_start", "approval_request", "entry_link"})


@dataclass(frozen=True)
class WatchPolicy:
    """The thresholds: more than `max_customers` distinct customers, or `max_failures` failed checks, per window.

    A keypad flow (an `ivr` key) serves every caller, so distinct customers say nothing about it; only its failed
    checks are judged, against `keypad_max_failures` (a PIN spray across many accounts through the IVR).
    """

    max_customers: int = 30
    max_failures: int = 10
    window: timedelta = timedelta(minutes=10)
    block: bool = False
    keypad_max_failures: int = 100

    def for_actor(self, actor: Actor) -> WatchPolicy:
        """The thresholds that judge this credential's acts: the keypad ones for an `ivr` key."""
        if KEYPAD_ROLE not in actor.roles:
            return self
        return replace(self, max_customers=sys.maxsize, max_failures=self.keypad_max_failures)

    @property
    def window_seconds(self) -> int:
        """The window in whole seconds."""
        return int(self.window.total_seconds())


@dataclass(frozen=True)
class Subject:
    """One watched party: an agent_id, or an API key by name."""

    kind: str
    id: str

    @property
    def key(self) -> str:
        """How stores name the subject (`agent:<agent_id>`, `key:<key name>`)."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class Activity:
    """One act that counts: a check (maybe failed), a code send or a summary read, on one customer."""

    account_id: str
    ref: str
    check: bool = False
    failed: bool = False


@dataclass
class CarriedAct:
    """A check's act, handed to the lockout counter so that a store able to count both does it in one call.

    The counter sets `counts` when it counted the act (with the lockout change, atomically); it is a failure when
    the counter counted a failure (the check is `rejected`). Left None, the watch counts the check itself.
    """

    watched: tuple[Subject, ...]
    account_id: str
    ref: str
    window: timedelta
    counts: list[WindowCounts] | None = None

    @property
    def subjects(self) -> tuple[str, ...]:
        """The watched subjects as stores name them, in order."""
        return tuple(subject.key for subject in self.watched)


@dataclass(frozen=True)
class WindowCounts:
    """A subject's acts inside the window."""

    checks: int = 0
    failures: int = 0
    customers: int = 0


@dataclass(frozen=True)
class Anomaly:
    """A raised threshold; open (and blocking, with `block`) until cleared."""

    anomaly_id: str
    subject: str
    subject_id: str
    kind: str
    count: int
    threshold: int
    window_seconds: int
    raised_at: datetime
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clear_reason: str | None = None
    key_name: str | None = None  # the credential of the act that raised it
    agent_id: str | None = None  # the agent_id that act asserted

    @property
    def open(self) -> bool:
        """Not cleared yet."""
        return self.cleared_at is None

    @property
    def open_key(self) -> str:
        """Unique among open anomalies: one per subject and kind at a time (one event per episode)."""
        return open_key(Subject(self.subject, self.subject_id), self.kind)


def open_key(subject: Subject, kind: str) -> str:
    """The key that makes an open anomaly unique per subject and kind."""
    return f"{subject.key}:{kind}"


def subjects_of(agent_id: str | None, actor: Actor) -> list[Subject]:
    """Who an act counts for: the agent_id of agents' tools and console users, and the key of agent-role keys.

    Portal keys act for the signed-in customer and admin keys for supervisors: neither is watched. The console's
    shared key `console` is not watched as a key: each console user is watched under their own name. An `ivr` key
    (the service's own Twilio flow included) is watched as a key alone: its agent_id names the flow, not a person.
    """
    if KEYPAD_ROLE in actor.roles:
        return [Subject(AnomalySubject.KEY, actor.key_name)]
    agent_key = AGENT_ROLE in actor.roles
    if not agent_key and actor.agent_id is None:
        return []
    subjects = [Subject(AnomalySubject.AGENT, agent_id)] if agent_id else []
    if agent_key:
        subjects.append(Subject(AnomalySubject.KEY, actor.key_name))
    return subjects


def breaches(counts: WindowCounts, policy: WatchPolicy) -> list[tuple[str, int, int]]:
    """(kind, count, threshold) of every threshold the counts cross: the 31st customer, the 10th failure."""
    found = []
    if counts.customers > policy.max_customers:
        found.append((AnomalyKind.DISTINCT_CUSTOMERS.value, counts.customers, policy.max_customers))
    if counts.failures >= policy.max_failures:
        found.append((AnomalyKind.FAILURES.value, counts.failures, policy.max_failures))
    return found


def anomaly_details(anomaly: Anomaly) -> dict[str, object]:
    """The audit and webhook details of an anomaly: its subject, and both the key and the agent_id behind it."""
    return {"anomaly_id": anomaly.anomaly_id, "subject": anomaly.subject, "agent_id": anomaly.agent_id,
            "key": anomaly.key_name, "kind": anomaly.kind, "count": anomaly.count, "threshold": anomaly.threshold,
            "window_seconds": anomaly.window_seconds}


def _no_op(name: str) -> None:
    """Default metrics hook."""


def _no_op_missed() -> None:
    """Default metrics hook of an act the store could not count."""


KNOWN_OPEN_FOR = timedelta(seconds=10)


class AgentWatch:
    """Counts what agents do, raises anomalies once per episode, and refuses agents before an act (ACTIONS)."""

    def __init__(self, *, uow: UnitOfWorkFactory, activity: AgentActivity, clock: Clock, policy: WatchPolicy,
                 on_raised: Callable[[str], None] = _no_op, on_refused: Callable[[str], None] = _no_op,
                 identity: AgentIdentity | None = None, on_missed: Callable[[], None] = _no_op_missed):
        self._uow, self._activity, self._clock, self._policy = uow, activity, clock, policy
        self._identity = identity or AgentIdentity(uow=uow)
        self._on_raised, self._on_refused, self._on_missed = on_raised, on_refused, on_missed
        # Episodes known to be open, so acts past a threshold do not each ask the database again (a load of
        # checks from one agent over the limit would otherwise pay a SQL read per check). Kept briefly: a clear
        # on another instance is seen within KNOWN_OPEN_FOR.
        self._known_open: dict[str, datetime] = {}

    def admit(self, agent_id: str | None, actor: Actor, action: str = "check") -> None:
        """403 when the credential may not assert `agent_id`; with `block`, 429 while the agent or key is blocked."""
        self._identity.claim(agent_id, actor)
        self.guard(agent_id or actor.agent_id, actor, action)

    @contextmanager
    def acting(self, account_id: str, agent_id: str | None, actor: Actor, action: str) -> Iterator[None]:
        """Admit the act, run it, and count its customer: also when it is refused about that customer (a 409 or a
        429 says something about them), never when the customer is unknown."""
        self.admit(agent_id, actor, action)
        try:
            yield
        except (Conflict, RateLimited):
            self._touched_after(account_id, agent_id, actor, action)  # the refusal is the answer, not a 503
            raise
        if action in STORED_ACTS:
            self._touched_after(account_id, agent_id, actor, action)
        else:
            self.touched(account_id, agent_id, actor, action)

    def touched(self, account_id: str, agent_id: str | None, actor: Actor, action: str) -> None:
        """Count a customer touched by an act other than a check (contact start, approval request, lock view)."""
        self._count(agent_id or actor.agent_id, actor, Activity(account_id, f"{action}_{secrets.token_hex(8)}"))

    def _touched_after(self, account_id: str, agent_id: str | None, actor: Actor, action: str) -> None:
        """Count an act that is already stored or refused: a store that cannot count it is logged and metered."""
        try:
            self.touched(account_id, agent_id, actor, action)
        except DependencyUnavailable as error:
            self._missed(action, error)

    def _missed(self, action: str, error: Exception) -> None:
        """An act the window could not count (verify_agent_watch_missed_total)."""
        log.warning("the agent watch could not count a %s: %s", action, type(error).__name__)
        self._on_missed()

    def guard(self, agent_id: str | None, actor: Actor, action: str = "check") -> None:
        """With `block`, 429 agent_blocked while the agent or the key has an open anomaly (asked every time)."""
        if not self._policy.block:
            return
        subjects = subjects_of(agent_id, actor)
        if not subjects:
            return
        with self._uow() as uow:
            found = uow.anomalies.open_for([subject.key for subject in subjects])
        if found is None:
            return
        self._on_refused(action)
        log.warning("%s refused: %s %s is blocked (anomaly %s)", action, found.subject, found.subject_id,
                    found.anomaly_id)
        raise RateLimited("This agent is paused by security after unusual activity (no checks, codes, contacts, "
                          "approval requests or customer reads); a supervisor must clear it.",
                          retry_after=self._policy.window_seconds,
                          details={"reason": "agent_blocked", "subject": found.subject})

    def carry_check(self, agent_id: str | None, actor: Actor, account_id: str, ref: str) -> CarriedAct | None:
        """The act of a check about to be counted, for the lockout counter to carry (None: nobody is watched)."""
        subjects = subjects_of(agent_id, actor)
        if not subjects:
            return None
        return CarriedAct(tuple(subjects), account_id, ref, self._policy.window)

    def checked(self, verification: Verification, actor: Actor, carried: CarriedAct | None = None) -> None:
        """Count an answered check (a `rejected` one is a failure), unless the lockout counter carried it."""
        if carried is not None and carried.counts is not None:
            self._judge(list(carried.watched), carried.counts, actor, self._clock.now())
            return
        failed = verification.result == CheckResult.REJECTED
        act = Activity(verification.account_id, verification.verification_id, check=True, failed=failed)
        if carried is not None:  # the counter did not carry it: the subjects are worked out already
            self._record(list(carried.watched), actor, act)
        else:
            self._count(verification.agent_id, actor, act)

    def sent(self, challenge: Challenge, actor: Actor) -> None:
        """Count a code send (a customer touched); the code is stored and queued by now, so a store that cannot
        count it is logged and metered, not a 503."""
        try:
            self._count(challenge.agent_id or actor.agent_id, actor,
                        Activity(challenge.account_id, challenge.challenge_id))
        except DependencyUnavailable as error:
            self._missed("code_send", error)

    def _count(self, agent_id: str | None, actor: Actor, activity: Activity) -> None:
        """Record the act for each of its subjects."""
        self._record(subjects_of(agent_id, actor), actor, activity)

    def _record(self, subjects: list[Subject], actor: Actor, activity: Activity) -> None:
        """Record the act for each subject in one store call; raise what it pushed over a threshold."""
        if not subjects:
            return
        now = self._clock.now()
        counts = self._activity.record([subject.key for subject in subjects], activity, now, self._policy.window)
        self._judge(subjects, counts, actor, now)

    def _judge(self, subjects: list[Subject], counts: list[WindowCounts], actor: Actor, now: datetime) -> None:
        """Raise what the counts pushed over a threshold, subject by subject."""
        agent_id = next((s.id for s in subjects if s.kind == AnomalySubject.AGENT), actor.agent_id)
        policy = self._policy.for_actor(actor)
        for subject, window in zip(subjects, counts, strict=True):
            for kind, count, threshold in breaches(window, policy):
                self._raise(subject, kind, count, threshold, actor, now, agent_id)

    def _raise(self, subject: Subject, kind: str, count: int, threshold: int, actor: Actor, now: datetime,
               agent_id: str | None = None) -> None:
        """Store the anomaly and its event, unless this episode already has one open."""
        key = open_key(subject, kind)
        known_until = self._known_open.get(key)
        if known_until is not None and now < known_until:
            return
        with self._uow() as uow:
            if uow.anomalies.open_for([subject.key], kinds=[kind]) is not None:
                self._known_open[key] = now + KNOWN_OPEN_FOR
                return
        anomaly = Anomaly(anomaly_id=f"ano_{secrets.token_urlsafe(18)}", subject=subject.kind, subject_id=subject.id,
                          kind=kind, count=count, threshold=threshold, window_seconds=self._policy.window_seconds,
                          raised_at=now, key_name=actor.key_name, agent_id=agent_id)
        with self._uow(write=True) as uow:
            if not uow.anomalies.add_open(anomaly):
                self._known_open[key] = now + KNOWN_OPEN_FOR
                return  # another instance raised this episode first
            uow.audit.append(_event(AuditEventName.AGENT_ANOMALY, anomaly, actor, now, agent_id))
            uow.commit()
        self._known_open[key] = now + KNOWN_OPEN_FOR
        log.warning("agent anomaly %s raised: %s over %d in %d s", anomaly.anomaly_id, key, threshold,
                    anomaly.window_seconds)
        self._on_raised(kind)

    def anomalies(self, open_only: bool | None = None, limit: int = 200) -> list[Anomaly]:
        """Anomalies newest first: all, only open ones, or only cleared ones."""
        with self._uow() as uow:
            return uow.anomalies.listed(open_only, limit)

    def clear(self, anomaly_id: str, reason: str, actor: Actor) -> Anomaly:
        """Clear an open anomaly (lifting its block) and reset its subject's window counts; audited."""
        with self._uow() as uow:
            found = uow.anomalies.get(anomaly_id)
        if found is None:
            raise NotFound(f"No anomaly {anomaly_id!r}.")
        if not found.open:
            raise Conflict("This anomaly was cleared already.")
        # Reset first (outside the write transaction: the counts may live in the same SQLite file), so a check
        # landing between the two finds the anomaly still open rather than old counts that raise a new one.
        self._activity.reset(Subject(found.subject, found.subject_id).key)
        self._known_open.pop(open_key(Subject(found.subject, found.subject_id), found.kind), None)
        now = self._clock.now()
        cleared = replace(found, cleared_at=now, cleared_by=actor.agent_id or actor.key_name, clear_reason=reason)
        with self._uow(write=True) as uow:
            if not uow.anomalies.clear(cleared):
                raise Conflict("This anomaly was cleared already.")
            uow.audit.append(_event(AuditEventName.AGENT_ANOMALY_CLEARED, cleared, actor, now, actor.agent_id,
                                    reason=reason))
            uow.commit()
        return cleared


def _event(name: str, anomaly: Anomaly, actor: Actor, now: datetime, agent_id: str | None,
           **extra: object) -> AuditEvent:
    """An anomaly's audit event, on the system chain (it is about an agent, not a customer)."""
    return AuditEvent(event=name, at=now, actor=actor.key_name, agent_id=agent_id, ip=actor.ip,
                      details={**anomaly_details(anomaly), **extra})
