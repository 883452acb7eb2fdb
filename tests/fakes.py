"""Hand-written fakes that record what happened (for domain unit tests) and a fake clock."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import hmac
import itertools
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from verify_service.adapters.crypto import AuditSigner
from verify_service.domain.agent_watch import Activity, Anomaly, CarriedAct, WindowCounts
from verify_service.domain.agents import AgentProfile
from verify_service.domain.audit import GENESIS_HASH, anchor_due, chain_input, chain_of
from verify_service.domain.contacts import Contact
from verify_service.domain.delivery import SecurityEventAuditLog
from verify_service.domain.entry_links import OPEN, EntryLink
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy, to_ms
from verify_service.domain.model import (
    AnchorReceipt,
    ApiKey,
    Approval,
    AuditEvent,
    AuditQuery,
    ChainedEvent,
    ChainState,
    Challenge,
    ChecksQuery,
    Customer,
    OutboxMessage,
    SealedSecret,
    Verification,
)
from verify_service.domain.ports import PinVault
from verify_service.domain.users import ConsoleUser
from verify_service.errors import DuplicateKey

if TYPE_CHECKING:
    from verify_service.domain.ports import AgentActivity, SendLog, UnitOfWorkFactory
    from verify_service.domain.users import PasswordHasher

START = datetime(2026, 11, 23, 4, 5, 6, tzinfo=UTC)
SIGNER = AuditSigner.from_setting("t:fake-audit-key-000000000000000000000000")


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self, start: datetime = START):
        self.current = start

    def now(self) -> datetime:
        """The fake now."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.current += timedelta(seconds=seconds)


class FakeAttemptCounter:
    """The lockout counter in a dict, behind a lock (the rule itself is the domain's)."""

    def __init__(self, watch: FakeAgentActivity | None = None) -> None:
        self.records: dict[str, CounterRecord] = {}
        self._lock = threading.Lock()
        self._watch = watch  # given: checks' acts ride on the count, as with Redis holding both

    def _record(self, key: str) -> CounterRecord:
        return self.records.setdefault(key, CounterRecord([]))

    def _carry(self, carry: CarriedAct | None, now: datetime, failed: bool) -> None:
        if carry is not None and self._watch is not None:
            carry.counts = self._watch.record(carry.subjects, Activity(carry.account_id, carry.ref, check=True,
                                                                       failed=failed), now, carry.window)

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> FailureOutcome:
        with self._lock:
            outcome = self._record(key).fail(to_ms(now), policy)
            self._carry(carry, now, failed=outcome.counted)
            return outcome

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> datetime | None:
        with self._lock:
            locked = self._record(key).succeed(to_ms(now), policy)
            self._carry(carry, now, failed=False)
            return locked

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> bool:
        with self._lock:
            if carry is not None and carry.counts is not None and self._watch is not None:
                self._watch.forget(carry.subjects, carry.ref)
            return self._record(key).forget(to_ms(at), policy)

    def state(self, key: str, now: datetime, policy: LockoutPolicy) -> AttemptState:
        with self._lock:
            return self._record(key).state(to_ms(now), policy)

    def clear(self, key: str) -> None:
        with self._lock:
            self.records.pop(key, None)

    def ping(self) -> None:
        return None


class FakeStore:
    """The committed state the fake units of work share."""

    def __init__(self) -> None:
        self.customers: dict[str, Customer] = {}
        self.verifications: dict[str, Verification] = {}
        self.events: list[ChainedEvent] = []
        self.heads: dict[str, tuple[int, str]] = {}
        self.anchored_at: datetime | None = None
        self.anchor_receipt: AnchorReceipt | None = None
        self.keys: dict[str, tuple[ApiKey, str]] = {}
        self.challenges: dict[str, Challenge] = {}
        self.approvals: dict[str, Approval] = {}
        self.locked_destinations: list[bytes] = []
        self.outbox: list[OutboxRow] = []
        self.users: dict[str, ConsoleUser] = {}
        self.contacts: dict[str, Contact] = {}
        self.agent_profiles: dict[str, AgentProfile] = {}
        self.anomalies: dict[str, Anomaly] = {}
        self.entry_links: dict[str, EntryLink] = {}


@dataclass(frozen=True)
class OutboxRow:
    """One row of the outbox table as the SQL adapter stores it (the lease columns included)."""

    id: int
    message_id: str
    kind: str
    payload: SealedSecret
    created_at: datetime
    next_attempt_at: datetime
    account_id: str | None = None
    challenge_id: str | None = None
    expires_at: datetime | None = None
    status: str = "pending"
    attempts: int = 0
    claimed_until: datetime | None = None
    claim_token: str | None = None
    sent_at: datetime | None = None
    last_error: str | None = None

    def message(self) -> OutboxMessage:
        """The domain record of this row."""
        return OutboxMessage(message_id=self.message_id, kind=self.kind, payload=self.payload,
                             created_at=self.created_at, next_attempt_at=self.next_attempt_at,
                             account_id=self.account_id, challenge_id=self.challenge_id, expires_at=self.expires_at,
                             status=self.status, attempts=self.attempts, id=self.id, claim_token=self.claim_token)


class _Customers:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def get(self, account_id: str, *, for_update: bool = False) -> Customer | None:
        found = self._uow.state.customers.get(account_id)
        return copy.deepcopy(found)

    def add(self, customer: Customer) -> None:
        if customer.account_id in self._uow.state.customers:
            raise DuplicateKey(customer.account_id)
        self._uow.state.customers[customer.account_id] = copy.deepcopy(customer)

    def save(self, customer: Customer) -> None:
        stored = self._uow.state.customers.get(customer.account_id)
        if stored is None:  # an UPDATE of no row
            return
        saved = copy.deepcopy(customer)
        saved.totp_last_step = stored.totp_last_step  # only advance_totp_step moves it, atomically
        self._uow.state.customers[customer.account_id] = saved

    def advance_totp_step(self, account_id: str, step: int) -> bool:
        stored = self._uow.state.customers.get(account_id)
        if stored is None or (stored.totp_last_step is not None and stored.totp_last_step >= step):
            return False
        stored.totp_last_step = step
        return True

    def with_old_pin_key(self, newest_key_id: str, limit: int, after: str = "") -> Sequence[Customer]:
        olds = sorted((c for c in self._uow.state.customers.values()
                       if c.pin and c.pin.key_id != newest_key_id and c.account_id > after),
                      key=lambda c: c.account_id)
        return [copy.deepcopy(c) for c in olds[:limit]]

    def count_old_pin_key(self, newest_key_id: str) -> int:
        return sum(1 for c in self._uow.state.customers.values() if c.pin and c.pin.key_id != newest_key_id)

    def erase_traces(self, account_id: str) -> dict[str, int]:
        state = self._uow.state
        codes = [key for key, c in state.challenges.items() if c.account_id == account_id]
        contacts = [key for key, c in state.contacts.items() if c.account_id == account_id]
        approvals = [key for key, a in state.approvals.items() if a.account_id == account_id]
        links = [key for key, link in state.entry_links.items() if link.account_id == account_id]
        kept = [row for row in state.outbox if row.account_id != account_id or row.kind == "event"]
        erased = {"codes": len(codes), "messages": len(state.outbox) - len(kept), "contacts": len(contacts),
                  "approvals": len(approvals), "entry_links": len(links)}
        for key in links:
            del state.entry_links[key]
        for key in codes:
            del state.challenges[key]
        for key in contacts:
            del state.contacts[key]
        for key in approvals:
            del state.approvals[key]
        state.outbox[:] = kept
        return erased

    def replace_pin(self, customer: Customer, old: SealedSecret, new: SealedSecret) -> bool:
        stored = self._uow.state.customers.get(customer.account_id)
        if stored is None or stored.pin != old:
            return False
        stored.pin = new
        return True


class _Verifications:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, verification: Verification) -> None:
        self._uow.state.verifications[verification.verification_id] = verification

    def get(self, verification_id: str) -> Verification | None:
        return self._uow.state.verifications.get(verification_id)

    def outcomes_since(self, account_id: str, since: datetime, limit: int,
                       ) -> list[tuple[datetime, str, datetime | None]]:
        found = [(v.checked_at, v.result, v.locked_until) for v in self._uow.state.verifications.values()
                 if v.account_id == account_id and v.checked_at > since and v.result in ("verified", "rejected")]
        return sorted(found, key=lambda item: item[0], reverse=True)[:limit]

    def of_call(self, call_ref: str, limit: int) -> list[Verification]:
        found = [v for v in self._uow.state.verifications.values() if v.call_ref == call_ref]
        return sorted(found, key=lambda v: v.checked_at, reverse=True)[:limit]

    def page(self, query: ChecksQuery) -> list[Verification]:
        found = [v for v in self._uow.state.verifications.values()
                 if (v.agent_id == query.agent_id if query.agent_id is not None else v.actor == query.key)
                 and (query.before is None or (v.checked_at, v.verification_id) < query.before)]
        return sorted(found, key=lambda v: (v.checked_at, v.verification_id), reverse=True)[:query.limit]


class _Audit:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def append(self, event: AuditEvent) -> ChainedEvent:
        state = self._uow.state
        chain = chain_of(event)
        seq, prev = state.heads.get(chain, (0, GENESIS_HASH))
        event_id = len(state.events) + 1
        digest = SIGNER.sign("t", chain_input(prev, chain, seq + 1, event, event_id))
        assert digest is not None
        item = ChainedEvent(event_id, event, chain, seq + 1, prev, digest, "t")
        state.events.append(item)
        state.heads[chain] = (seq + 1, digest)
        return item

    def query(self, query: AuditQuery) -> list[ChainedEvent]:
        items = [e for e in reversed(self._uow.state.events)
                 if (query.account_id is None or e.event.account_id == query.account_id)
                 and (query.event is None or e.event.event == query.event)
                 and (query.before_id is None or e.id < query.before_id)]
        return items[: query.limit]

    def chains(self) -> Iterator[ChainState]:
        events = sorted(self._uow.state.events, key=lambda e: (e.chain, e.seq))
        for chain, items in itertools.groupby(events, key=lambda e: e.chain):
            yield ChainState(chain, self._uow.state.heads.get(chain), None, items)
        for chain in self._uow.state.heads.keys() - {e.chain for e in events}:
            yield ChainState(chain, self._uow.state.heads[chain], None, iter(()))

    def heads(self, since: datetime | None = None) -> dict[str, tuple[int, str]]:
        moved = {e.chain for e in self._uow.state.events if since is None or e.event.at >= since}
        return {chain: head for chain, head in self._uow.state.heads.items() if chain in moved}

    def anchor_receipt(self) -> AnchorReceipt | None:
        return self._uow.state.anchor_receipt

    def keep_anchor_receipt(self, receipt: AnchorReceipt) -> None:
        kept = self._uow.state.anchor_receipt
        if kept is None or kept.at < receipt.at:
            self._uow.state.anchor_receipt = receipt

    def claim_anchor(self, now: datetime, every: timedelta) -> tuple[bool, datetime | None]:
        previous = self._uow.state.anchored_at
        if not anchor_due(previous, now, every):
            return False, previous
        self._uow.state.anchored_at = now
        return True, previous


class _Keys:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, key: ApiKey, key_hash: str) -> None:
        self._uow.state.keys[key.name] = (key, key_hash)

    def by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k, h in self._uow.state.keys.values() if h == key_hash and not k.revoked_at), None)

    def by_name(self, name: str) -> ApiKey | None:
        found = self._uow.state.keys.get(name)
        return found[0] if found else None

    def revoke(self, name: str, at: datetime) -> bool:
        found = self._uow.state.keys.get(name)
        if not found or found[0].revoked_at:
            return False
        key, digest = found
        self._uow.state.keys[name] = (dataclasses.replace(key, revoked_at=at), digest)
        return True

    def all(self) -> list[ApiKey]:
        return [k for k, _ in self._uow.state.keys.values()]


class _Challenges:
    """Challenges like SqlChallengeRepository: every racing change is guarded by the stored status."""

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, challenge: Challenge) -> None:
        if challenge.challenge_id in self._uow.state.challenges:
            raise DuplicateKey(challenge.challenge_id)
        self._uow.state.challenges[challenge.challenge_id] = copy.deepcopy(challenge)

    def get(self, challenge_id: str) -> Challenge | None:
        return copy.deepcopy(self._uow.state.challenges.get(challenge_id))

    def latest(self, account_id: str) -> Challenge | None:
        mine = [c for c in self._uow.state.challenges.values() if c.account_id == account_id]
        newest = max(mine, key=lambda c: (c.created_at, c.challenge_id), default=None)
        return copy.deepcopy(newest)

    def sent_since(self, account_id: str, since: datetime) -> list[datetime]:
        return sorted(c.created_at for c in self._uow.state.challenges.values()
                      if c.account_id == account_id and c.created_at > since)

    def lock_destination(self, destination_mac: bytes) -> None:
        self._uow.state.locked_destinations.append(destination_mac)

    def nth_latest_send(self, since: datetime, n: int, *, destination_mac: bytes | None = None,
                        actor: str | None = None) -> datetime | None:
        times = sorted((c.created_at for c in self._uow.state.challenges.values() if c.created_at > since
                        and (destination_mac is None or c.destination_mac == destination_mac)
                        and (actor is None or c.actor == actor)), reverse=True)
        return times[n - 1] if len(times) >= n else None

    def supersede_pending(self, account_id: str, now: datetime) -> int:
        retired = [c for c in self._uow.state.challenges.values()
                   if c.account_id == account_id and c.status == "pending" and c.expires_at > now]
        for challenge in retired:
            challenge.status = "superseded"
        return len(retired)

    def consume(self, challenge_id: str) -> bool:
        stored = self._uow.state.challenges.get(challenge_id)
        if stored is None or stored.status != "pending":
            return False
        stored.status = "verified"
        return True

    def record_wrong(self, challenge_id: str, max_wrong: int) -> None:
        stored = self._uow.state.challenges.get(challenge_id)
        if stored is None or stored.status != "pending":
            return
        stored.wrong_entries += 1
        if stored.wrong_entries >= max_wrong:
            stored.status = "killed"

    def set_delivery(self, challenge_id: str, delivery: str) -> None:
        stored = self._uow.state.challenges.get(challenge_id)
        if stored is not None:
            stored.delivery = delivery


class _Approvals:
    """Approval requests like SqlApprovalRepository: racing changes are guarded by status and expiry."""

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, approval: Approval) -> None:
        if approval.approval_id in self._uow.state.approvals:
            raise DuplicateKey(approval.approval_id)
        self._uow.state.approvals[approval.approval_id] = copy.deepcopy(approval)

    def get(self, approval_id: str) -> Approval | None:
        return copy.deepcopy(self._uow.state.approvals.get(approval_id))

    def _live(self, account_id: str, now: datetime) -> list[Approval]:
        return [a for a in self._uow.state.approvals.values()
                if a.account_id == account_id and a.status == "pending" and a.expires_at > now]

    def pending(self, account_id: str, now: datetime) -> list[Approval]:
        found = sorted(self._live(account_id, now), key=lambda a: (a.created_at, a.approval_id), reverse=True)
        return [copy.deepcopy(a) for a in found]

    def created_since(self, account_id: str, since: datetime) -> list[datetime]:
        return sorted(a.created_at for a in self._uow.state.approvals.values()
                      if a.account_id == account_id and a.created_at > since)

    def supersede_pending(self, account_id: str, now: datetime) -> list[str]:
        retired = sorted(self._live(account_id, now), key=lambda a: a.approval_id)
        for approval in retired:
            approval.status = "superseded"
        return [a.approval_id for a in retired]

    def transition(self, approval_id: str, source: str, target: str, now: datetime) -> bool:
        stored = self._uow.state.approvals.get(approval_id)
        if stored is None or stored.status != source or stored.expires_at <= now:
            return False
        stored.status = target
        if target == "used":
            stored.used_at = now
        else:
            stored.answered_at = None if target == "pending" else now
        return True


class _Outbox:
    """The outbox like SqlOutboxRepository: due rows are leased to one worker, results need the lease."""

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow
        self.added = 0

    def add(self, message: OutboxMessage) -> None:
        rows = self._uow.state.outbox
        if any(row.message_id == message.message_id for row in rows):
            raise DuplicateKey(message.message_id)
        self.added += 1
        rows.append(OutboxRow(
            id=len(rows) + 1, message_id=message.message_id, kind=message.kind, payload=message.payload,
            created_at=message.created_at, next_attempt_at=message.next_attempt_at, account_id=message.account_id,
            challenge_id=message.challenge_id, expires_at=message.expires_at, status=message.status,
            attempts=message.attempts))

    def claim_due(self, now: datetime, limit: int, lease_until: datetime, token: str) -> list[OutboxMessage]:
        rows = self._uow.state.outbox
        due = sorted((row for row in rows if row.status == "pending" and row.next_attempt_at <= now
                      and (row.claimed_until is None or row.claimed_until < now)),
                     key=lambda row: (row.next_attempt_at, row.id))[:limit]
        claimed = []
        for row in sorted(due, key=lambda row: row.id):
            leased = dataclasses.replace(row, claimed_until=lease_until, claim_token=token)
            rows[row.id - 1] = leased
            claimed.append(leased.message())
        return claimed

    def finish(self, message: OutboxMessage, **values: Any) -> bool:
        rows = self._uow.state.outbox
        row = next((r for r in rows if r.id == message.id), None)
        if row is None or row.claim_token is None or row.claim_token != message.claim_token:
            return False
        rows[row.id - 1] = dataclasses.replace(row, claimed_until=None, claim_token=None, **values)
        return True

    def backlog(self) -> tuple[int, datetime | None]:
        pending = [row.created_at for row in self._uow.state.outbox if row.status == "pending"]
        return len(pending), min(pending, default=None)


class _Users:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, user: ConsoleUser) -> None:
        if user.username in self._uow.state.users:
            raise DuplicateKey(user.username)
        self._uow.state.users[user.username] = dataclasses.replace(user, disabled_at=None, session_epoch=0)

    def by_username(self, username: str) -> ConsoleUser | None:
        return self._uow.state.users.get(username)

    def all(self) -> list[ConsoleUser]:
        return sorted(self._uow.state.users.values(), key=lambda user: user.username)

    def update(self, username: str, *, enable: bool = False, password_hash: str | None = None) -> bool:
        user = self._uow.state.users.get(username)
        if user is None:
            return False
        changed = dataclasses.replace(user, session_epoch=user.session_epoch + 1)
        if enable:
            changed = dataclasses.replace(changed, disabled_at=None)
        if password_hash is not None:
            changed = dataclasses.replace(changed, password_hash=password_hash)
        self._uow.state.users[username] = changed
        return True

    def bump_epoch(self, username: str, *, disable_at: datetime | None) -> bool:
        user = self._uow.state.users.get(username)
        if user is None:
            return False
        changed = dataclasses.replace(user, session_epoch=user.session_epoch + 1)
        if disable_at is not None:
            changed = dataclasses.replace(changed, disabled_at=disable_at)
        self._uow.state.users[username] = changed
        return True

    def usernames(self) -> list[str]:
        return list(self._uow.state.users)


class _EntryLinks:
    """Entry links like SqlEntryLinkRepository: claims and results guarded by the stored state."""

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, link: EntryLink) -> None:
        if link.link_id in self._uow.state.entry_links:
            raise DuplicateKey(link.link_id)
        self._uow.state.entry_links[link.link_id] = copy.deepcopy(link)

    def get(self, link_id: str) -> EntryLink | None:
        return copy.deepcopy(self._uow.state.entry_links.get(link_id))

    def by_token_mac(self, macs: list[bytes]) -> EntryLink | None:
        found = [link for link in self._uow.state.entry_links.values() if link.token_mac.blob in macs]
        return copy.deepcopy(found[0]) if found else None

    def created_since(self, since: datetime, *, account_id: str | None = None, agent_id: str | None = None,
                      owner: str | None = None) -> list[datetime]:
        field, value = next((name, value) for name, value in (("owner", owner), ("account_id", account_id),
                                                              ("agent_id", agent_id)) if value is not None)
        return sorted(link.created_at for link in self._uow.state.entry_links.values()
                      if link.created_at > since and getattr(link, field) == value)

    def claim(self, link_id: str, submission: str, now: datetime, stale_before: datetime) -> bool:
        link = self._uow.state.entry_links.get(link_id)
        if link is None or link.status not in OPEN or link.expires_at <= now or link.submission == submission:
            return False
        if link.checking_since is not None and link.checking_since >= stale_before:
            return False
        link.submission, link.checking_since, link.tries = submission, now, link.tries + 1
        return True

    def finish(self, link_id: str, submission: str, status: str, verification_id: str, now: datetime) -> bool:
        link = self._uow.state.entry_links.get(link_id)
        if link is None or link.submission != submission or link.status not in OPEN:
            return False
        link.status, link.verification_id, link.checking_since = status, verification_id, None
        link.used_at = None if status in OPEN else now
        return True

    def release(self, link_id: str, submission: str) -> None:
        link = self._uow.state.entry_links.get(link_id)
        if link is not None and link.submission == submission and link.checking_since is not None:
            link.submission, link.checking_since, link.tries = None, None, link.tries - 1


class _Contacts:
    """Contacts like SqlContactRepository: ending and reporting change a contact once."""

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add(self, contact: Contact) -> None:
        if contact.contact_id in self._uow.state.contacts:
            raise DuplicateKey(contact.contact_id)
        self._uow.state.contacts[contact.contact_id] = copy.deepcopy(contact)

    def get(self, contact_id: str) -> Contact | None:
        return copy.deepcopy(self._uow.state.contacts.get(contact_id))

    def active(self, account_id: str, now: datetime, *, ticket_key: str | None = None) -> list[Contact]:
        found = [c for c in self._uow.state.contacts.values() if c.account_id == account_id
                 and c.ended_at is None and c.expires_at > now and ticket_key in (None, c.ticket_key)]
        return [copy.deepcopy(c) for c in sorted(found, key=lambda c: (c.started_at, c.contact_id))]

    def end(self, contact_id: str, at: datetime) -> bool:
        stored = self._uow.state.contacts.get(contact_id)
        if stored is None or stored.ended_at is not None:
            return False
        stored.ended_at = at
        return True

    def report(self, contact_id: str, at: datetime, reason: str | None) -> bool:
        stored = self._uow.state.contacts.get(contact_id)
        if stored is None or stored.reported_at is not None:
            return False
        stored.reported_at, stored.report_reason = at, reason
        return True


class _AgentProfiles:
    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def get(self, agent_id: str) -> AgentProfile | None:
        return self._uow.state.agent_profiles.get(agent_id)

    def put(self, profile: AgentProfile) -> None:
        self._uow.state.agent_profiles[profile.agent_id] = profile

    def all(self) -> list[AgentProfile]:
        return sorted(self._uow.state.agent_profiles.values(), key=lambda p: p.agent_id)


class _Anomalies:
    """Anomalies like SqlAnomalyRepository: one open per subject and kind, clearing only an open one."""

    def __init__(self, uow: FakeUnitOfWork):
        self._uow = uow

    def add_open(self, anomaly: Anomaly) -> bool:
        if any(a.open and a.open_key == anomaly.open_key for a in self._uow.state.anomalies.values()):
            return False
        self._uow.state.anomalies[anomaly.anomaly_id] = anomaly
        return True

    def open_for(self, subjects: Sequence[str], kinds: Sequence[str] | None = None) -> Anomaly | None:
        found = [a for a in self._uow.state.anomalies.values() if a.open
                 and f"{a.subject}:{a.subject_id}" in subjects and (kinds is None or a.kind in kinds)]
        return min(found, key=lambda a: a.raised_at, default=None)

    def get(self, anomaly_id: str) -> Anomaly | None:
        return self._uow.state.anomalies.get(anomaly_id)

    def listed(self, open_only: bool | None, limit: int) -> list[Anomaly]:
        found = [a for a in self._uow.state.anomalies.values() if open_only is None or a.open == open_only]
        return sorted(found, key=lambda a: a.raised_at, reverse=True)[:limit]

    def clear(self, anomaly: Anomaly) -> bool:
        stored = self._uow.state.anomalies.get(anomaly.anomaly_id)
        if stored is None or not stored.open:
            return False
        self._uow.state.anomalies[anomaly.anomaly_id] = anomaly
        return True


class FakeAgentActivity:
    """The activity window in lists, behind a lock; records every call; the same window edge as the adapters."""

    def __init__(self) -> None:
        self.acts: dict[str, list[tuple[datetime, Activity]]] = {}
        self.calls: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def record(self, subjects: Sequence[str], activity: Activity, now: datetime,
               window: timedelta) -> list[WindowCounts]:
        with self._lock:
            self.calls.append(tuple(subjects))
            return [self._add(subject, activity, now, window) for subject in subjects]

    def _add(self, subject: str, activity: Activity, now: datetime, window: timedelta) -> WindowCounts:
        kept = [(at, act) for at, act in self.acts.get(subject, []) if at > now - window]
        kept.append((now, activity))
        self.acts[subject] = kept
        return WindowCounts(checks=sum(act.check for _, act in kept), failures=sum(act.failed for _, act in kept),
                            customers=len({act.account_id for _, act in kept}))

    def reset(self, subject: str) -> None:
        with self._lock:
            self.acts.pop(subject, None)

    def forget(self, subjects: Sequence[str], ref: str) -> None:
        """Take a check back out of the counts (what a carrying counter does when its check could not be recorded):
        as in Redis, the check and its failure go and the customer stays touched."""
        with self._lock:
            for subject in subjects:
                self.acts[subject] = [
                    (at, dataclasses.replace(act, check=False, failed=False) if act.ref == ref else act)
                    for at, act in self.acts.get(subject, [])]


class FakeUnitOfWork:
    """Works on a copy of the store; commit publishes it, like a transaction."""

    customers: _Customers
    verifications: _Verifications
    audit: _Audit | SecurityEventAuditLog
    api_keys: _Keys
    challenges: _Challenges
    approvals: _Approvals
    outbox: _Outbox
    users: _Users
    contacts: _Contacts
    agent_profiles: _AgentProfiles
    anomalies: _Anomalies
    entry_links: _EntryLinks

    def __init__(self, store: FakeStore, log: list[str], *, events_vault: PinVault | None = None,
                 after_outbox: Callable[[], None] | None = None):
        self._store, self._log = store, log
        self._events_vault, self._after_outbox = events_vault, after_outbox
        self.committed = False

    def __enter__(self) -> FakeUnitOfWork:
        self.state = copy.deepcopy(self._store)
        self.customers, self.verifications = _Customers(self), _Verifications(self)
        self.audit, self.api_keys = _Audit(self), _Keys(self)
        self.challenges, self.outbox, self.users = _Challenges(self), _Outbox(self), _Users(self)
        self.contacts, self.agent_profiles = _Contacts(self), _AgentProfiles(self)
        self.approvals = _Approvals(self)
        self.anomalies = _Anomalies(self)
        self.entry_links = _EntryLinks(self)
        if self._events_vault is not None:
            self.audit = SecurityEventAuditLog(self.audit, self, self._events_vault)
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.committed:
            self._log.append("rollback")

    def commit(self) -> None:
        self._store.__dict__.update(self.state.__dict__)
        self.committed = True
        self._log.append("commit")
        if self.outbox.added and self._after_outbox is not None:
            self._after_outbox()


class FakeUnitOfWorkFactory:
    """Makes fake units of work over one shared store; with events_vault, security events are queued."""

    def __init__(self, *, events_vault: PinVault | None = None) -> None:
        self.store = FakeStore()
        self.log: list[str] = []
        self.events_vault = events_vault
        self.after_outbox: Callable[[], None] | None = None

    def __call__(self, *, write: bool = False, snapshot: bool = False) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store, self.log, events_vault=self.events_vault, after_outbox=self.after_outbox)


class FakeSendLog:
    """Code sends in a list, with every destination lock taken (records what the SMS guard asked)."""

    def __init__(self) -> None:
        self.sends: list[tuple[datetime, bytes | None, str | None]] = []
        self.locked: list[bytes] = []

    def record(self, at: datetime, destination_mac: bytes | None = None, actor: str | None = None) -> None:
        """A send that happened."""
        self.sends.append((at, destination_mac, actor))

    def lock_destination(self, destination_mac: bytes) -> None:
        self.locked.append(destination_mac)

    def nth_latest_send(self, since: datetime, n: int, *, destination_mac: bytes | None = None,
                        actor: str | None = None) -> datetime | None:
        times = sorted((at for at, mac, key in self.sends if at > since
                        and destination_mac in (None, mac) and actor in (None, key)), reverse=True)
        return times[n - 1] if len(times) >= n else None


class FakePasswordHasher:
    """Salted SHA-256 in place of argon2 (fast); records every hash a password was checked against."""

    def __init__(self) -> None:
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        salt = secrets.token_hex(8)
        return f"fake${salt}${hashlib.sha256((salt + password).encode()).hexdigest()}"

    def verify(self, password: str, password_hash: str) -> bool:
        self.verified.append(password_hash)
        _, salt, digest = (password_hash.split("$") + ["", ""])[:3]
        return hmac.compare_digest(hashlib.sha256((salt + password).encode()).hexdigest(), digest)


if TYPE_CHECKING:  # `mypy tests/fakes.py` checks the fakes against the ports
    _factory: UnitOfWorkFactory = FakeUnitOfWorkFactory()
    _send_log: SendLog = FakeSendLog()
    _hasher: PasswordHasher = FakePasswordHasher()
    _activity: AgentActivity = FakeAgentActivity()
