"""Contracts between the domain and its adapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from verify_service.domain.agent_watch import Activity, Anomaly, CarriedAct, WindowCounts
from verify_service.domain.lockout import AttemptState, CounterRecord, FailureOutcome, LockoutPolicy

if TYPE_CHECKING:
    from verify_service.domain.agents import AgentProfile
    from verify_service.domain.contacts import Contact
    from verify_service.domain.entry_links import EntryLink
    from verify_service.domain.users import ConsoleUser
from verify_service.domain.model import (
    Actor,
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


class Clock(Protocol):
    """Where the domain gets the time (a fake one in tests)."""

    def now(self) -> datetime:
        """The current moment, timezone-aware UTC."""
        ...


class Words(Protocol):
    """The words of one language, from the gettext catalogs; values are %(name)s placeholders."""

    @property
    def locale(self) -> str:
        """The language these words are in (English when the catalogs have none for the one asked)."""
        ...

    def gettext(self, message: str, /, **values: object) -> str:
        """The message (an English msgid) in this language, with its values filled in."""
        ...

    def ngettext(self, singular: str, plural: str, num: int, /, **values: object) -> str:
        """The plural form for `num` (also given as %(num)d), with its values filled in."""
        ...

    def format_datetime(self, moment: datetime, zone: str) -> str:
        """A moment in this language's medium date and time format, in the time zone `zone` (IANA name)."""
        ...


class Texts(Protocol):
    """The catalogs: what a customer reads (SMS, account-page sentences, later IVR prompts) in their language."""

    def language(self, locale: str) -> Words:
        """The words of `locale` (English for a locale with no catalog)."""
        ...


class PinVault(Protocol):
    """Seals secrets under a key ring held outside the database."""

    def seal(self, account_id: str, pin: str, *, purpose: str = "pin") -> SealedSecret:
        """Encrypt a secret under the newest key, bound to its account and purpose."""
        ...

    def open(self, account_id: str, sealed: SealedSecret, *, purpose: str = "pin") -> str:
        """Decrypt a sealed secret (a PIN for the customer's own view, a TOTP secret, a message)."""
        ...

    def mac(self, message: str) -> SealedSecret:
        """A keyed MAC under the newest key (one-time codes are stored only as this)."""
        ...

    def macs(self, message: str) -> list[SealedSecret]:
        """The MAC under every key of the ring, newest first (a lookup by MAC that survives a key rotation)."""
        ...

    def mac_matches(self, message: str, stored: SealedSecret) -> bool:
        """Constant-time check of a message against a stored MAC."""
        ...

    def matches(self, account_id: str, sealed: SealedSecret, candidate: str) -> bool:
        """Compare a candidate with the sealed PIN in constant time."""
        ...

    def newest_key_id(self) -> str:
        """The id of the key new seals use."""
        ...


class ChainSigner(Protocol):
    """Keyed hashing for the audit chain, with keys outside the database."""

    def newest_key_id(self) -> str:
        """The key new links use."""
        ...

    def sign(self, key_id: str, data: bytes) -> str | None:
        """Hex MAC under key_id; None if that key is unknown."""
        ...


class CustomerRepository(Protocol):
    """Customers inside a unit of work."""

    def get(self, account_id: str, *, for_update: bool = False) -> Customer | None:
        """The customer, or None; for_update locks the row until commit."""
        ...

    def add(self, customer: Customer) -> None:
        """Insert a new customer."""
        ...

    def save(self, customer: Customer) -> None:
        """Write back a changed customer."""
        ...

    def with_old_pin_key(self, newest_key_id: str, limit: int, after: str = "") -> Sequence[Customer]:
        """Customers whose PIN is sealed under another key than the newest, by account id after `after`."""
        ...

    def count_old_pin_key(self, newest_key_id: str) -> int:
        """How many PINs are still sealed under an older key."""
        ...

    def replace_pin(self, customer: Customer, old: SealedSecret, new: SealedSecret) -> bool:
        """Swap a sealed PIN only if it is still `old` (a concurrent rotation wins); True if swapped."""
        ...

    def advance_totp_step(self, account_id: str, step: int) -> bool:
        """Record a used TOTP step; False if it or a later one was used (replay)."""
        ...

    def erase_traces(self, account_id: str) -> dict[str, int]:
        """Delete the account's codes, messages (but security events), contacts and approvals: how many of each."""
        ...


class SendLog(Protocol):
    """Past code sends as the SMS caps count them, inside a unit of work."""

    def lock_destination(self, destination_mac: bytes) -> None:
        """Serialise sends to one destination until the transaction ends (a no-op where writers already are)."""
        ...

    def nth_latest_send(self, since: datetime, n: int, *, destination_mac: bytes | None = None,
                        actor: str | None = None) -> datetime | None:
        """When the n-th newest send after `since` was made (to one destination, by one key, or all); None if fewer."""
        ...


class ChallengeRepository(SendLog, Protocol):
    """One-time code challenges inside a unit of work (and the send log the SMS caps count)."""

    def add(self, challenge: Challenge) -> None:
        """Store a new challenge."""
        ...

    def get(self, challenge_id: str) -> Challenge | None:
        """A challenge by id, or None."""
        ...

    def latest(self, account_id: str) -> Challenge | None:
        """The customer's newest challenge, whatever its status."""
        ...

    def sent_since(self, account_id: str, since: datetime) -> list[datetime]:
        """Send times of the customer's challenges after `since`, oldest first."""
        ...

    def supersede_pending(self, account_id: str, now: datetime) -> int:
        """Retire the customer's pending, unexpired challenges."""
        ...

    def consume(self, challenge_id: str) -> bool:
        """Use a pending challenge once; False if it was used or retired first."""
        ...

    def record_wrong(self, challenge_id: str, max_wrong: int) -> None:
        """Count a wrong entry; the code dies at max_wrong."""
        ...

    def set_delivery(self, challenge_id: str, delivery: str) -> None:
        """Record `sent` or `failed`."""
        ...


class ApprovalRepository(Protocol):
    """Approval requests inside a unit of work; racing changes are guarded by the stored status."""

    def add(self, approval: Approval) -> None:
        """Store a new request."""
        ...

    def get(self, approval_id: str) -> Approval | None:
        """A request by id, or None."""
        ...

    def pending(self, account_id: str, now: datetime) -> list[Approval]:
        """The customer's pending, unexpired requests, newest first."""
        ...

    def created_since(self, account_id: str, since: datetime) -> list[datetime]:
        """Creation times of the customer's requests after `since`, oldest first."""
        ...

    def supersede_pending(self, account_id: str, now: datetime) -> list[str]:
        """Retire the customer's pending, unexpired requests; their ids."""
        ...

    def transition(self, approval_id: str, source: str, target: str, now: datetime) -> bool:
        """Move a request from `source` to `target` status if it is still there and unexpired at `now`
        (stamping answered_at for an answer, used_at for a use); False if another change came first."""
        ...


class OutboxRepository(Protocol):
    """The durable outbox inside a unit of work."""

    def add(self, message: OutboxMessage) -> None:
        """Queue a message in this transaction."""
        ...

    def claim_due(self, now: datetime, limit: int, lease_until: datetime, token: str) -> list[OutboxMessage]:
        """Lease due messages to one worker."""
        ...

    def finish(self, message: OutboxMessage, **values: Any) -> bool:
        """Record an attempt's result while the lease is held."""
        ...

    def backlog(self) -> tuple[int, datetime | None]:
        """Pending count and the oldest pending message's creation."""
        ...


class UserRepository(Protocol):
    """Console users."""

    def add(self, user: ConsoleUser) -> None:
        """Store a new user."""
        ...

    def by_username(self, username: str) -> ConsoleUser | None:
        """A user by name, or None."""
        ...

    def bump_epoch(self, username: str, *, disable_at: datetime | None) -> bool:
        """End the user's sessions (and disable them if disable_at is given); False if no such user."""
        ...

    def usernames(self) -> list[str]:
        """Every user's name, disabled ones included (a name stays its person's)."""
        ...

    def all(self) -> list[ConsoleUser]:
        """Every user, disabled ones included, by name."""
        ...

    def update(self, username: str, *, enable: bool = False, password_hash: str | None = None) -> bool:
        """Re-enable a user and/or set a new password hash, ending their sessions; False if there is no such user."""
        ...


class ContactRepository(Protocol):
    """Agents' contacts with customers (reverse verification) inside a unit of work."""

    def add(self, contact: Contact) -> None:
        """Store a new contact."""
        ...

    def get(self, contact_id: str) -> Contact | None:
        """A contact by id, or None."""
        ...

    def active(self, account_id: str, now: datetime, *, ticket_key: str | None = None) -> list[Contact]:
        """The customer's contacts neither ended nor expired at `now` (of one ticket key, if given), oldest first."""
        ...

    def end(self, contact_id: str, at: datetime) -> bool:
        """End a contact not ended yet; False if it was ended first."""
        ...

    def report(self, contact_id: str, at: datetime, reason: str | None) -> bool:
        """Mark a contact reported once; False if it was reported first."""
        ...


class EntryLinkRepository(Protocol):
    """Entry links inside a unit of work; a link's use is claimed and finished by guarded updates."""

    def add(self, link: EntryLink) -> None:
        """Store a new link."""
        ...

    def get(self, link_id: str) -> EntryLink | None:
        """A link by id, or None."""
        ...

    def by_token_mac(self, macs: list[bytes]) -> EntryLink | None:
        """The link whose stored token MAC is one of `macs`, or None."""
        ...

    def created_since(self, since: datetime, *, account_id: str | None = None, agent_id: str | None = None,
                      owner: str | None = None) -> list[datetime]:
        """Creation times after `since` of one customer's, agent's or credential's (Actor.owner) links, oldest
        first (exactly one of the three is given)."""
        ...

    def claim(self, link_id: str, submission: str, now: datetime, stale_before: datetime) -> bool:
        """Take an open, unexpired link for one form's check (tries + 1) unless a claim newer than `stale_before`
        holds it or this form was sent before; False if not taken."""
        ...

    def finish(self, link_id: str, submission: str, status: str, verification_id: str, now: datetime) -> bool:
        """Record the check of the form holding the claim (and used_at for a dead link); False if it lost the claim."""
        ...

    def release(self, link_id: str, submission: str) -> None:
        """Drop this form's claim without a result (its check failed; the form may be sent again)."""
        ...


class AgentProfileRepository(Protocol):
    """Agents' display names inside a unit of work."""

    def get(self, agent_id: str) -> AgentProfile | None:
        """An agent's profile, or None."""
        ...

    def put(self, profile: AgentProfile) -> None:
        """Insert or replace an agent's profile."""
        ...

    def all(self) -> list[AgentProfile]:
        """Every profile, by agent_id."""
        ...


class MessageSender(Protocol):
    """Hands one message to a gateway; raises DeliveryFailed when it was not accepted."""

    def send(self, message_id: str, payload: dict[str, Any]) -> None:
        """Deliver or raise."""
        ...


class VerificationRepository(Protocol):
    """Verification records inside a unit of work."""

    def add(self, verification: Verification) -> None:
        """Store a check's record."""
        ...

    def get(self, verification_id: str) -> Verification | None:
        """A record by id, or None."""
        ...

    def outcomes_since(self, account_id: str, since: datetime, limit: int,
                       ) -> list[tuple[datetime, str, datetime | None]]:
        """(checked_at, result, locked_until) of verified and rejected checks after `since`, newest first."""
        ...

    def of_call(self, call_ref: str, limit: int) -> list[Verification]:
        """The checks made on one phone call, newest first."""
        ...

    def page(self, query: ChecksQuery) -> list[Verification]:
        """An agent_id's or a key's checks after `query.before`, newest first (checked_at, then id), at most limit."""
        ...


class AuditLog(Protocol):
    """The tamper-evident trail: one hash chain per customer."""

    def append(self, event: AuditEvent) -> ChainedEvent:
        """Chain and store an event in the current unit of work."""
        ...

    def query(self, query: AuditQuery) -> list[ChainedEvent]:
        """Events matching the filters, newest first."""
        ...

    def chains(self) -> Iterator[ChainState]:
        """Every chain with its head and archive cut, and its events in seq order, streamed one chain at a time
        (chains whose events were all archived come with no events)."""
        ...

    def heads(self, since: datetime | None = None) -> dict[str, tuple[int, str]]:
        """Each chain's last sequence number and hash; with `since`, only chains with an event since then."""
        ...

    def claim_anchor(self, now: datetime, every: timedelta) -> tuple[bool, datetime | None]:
        """Take the scheduled anchor if one is due (once per `every` across every instance):
        (taken, when the previous anchor was taken)."""
        ...

    def anchor_receipt(self) -> AnchorReceipt | None:
        """The newest delivered anchor's receipt (None before the first)."""
        ...

    def keep_anchor_receipt(self, receipt: AnchorReceipt) -> None:
        """Store a delivered anchor's receipt unless a newer one is kept."""
        ...


class CheckRecorder(Protocol):
    """A faster way to store a check than a unit of work, where the store has one."""

    def record(self, verification: Verification, event: AuditEvent) -> bool:
        """Store the record and its chained audit event as one durable write; False if it could not
        (nothing was written: use a unit of work)."""
        ...


class AnchorSink(Protocol):
    """Somewhere outside the database that keeps signed chain-heads anchors."""

    def write(self, document: dict[str, Any], uow: UnitOfWork) -> None:
        """Keep one anchor document; `uow` is the transaction that took it (for the outbox)."""
        ...

    def newest(self, uow: UnitOfWorkFactory) -> datetime | None:
        """When the newest anchor kept here was taken, from what was written and signed (None if none)."""
        ...


class ApiKeyRepository(Protocol):
    """API keys, stored only as hashes."""

    def add(self, key: ApiKey, key_hash: str) -> None:
        """Store a new key's hash."""
        ...

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """The live key with this hash, or None."""
        ...

    def by_name(self, name: str) -> ApiKey | None:
        """A key by name (revoked ones too), or None."""
        ...

    def revoke(self, name: str, at: datetime) -> bool:
        """Revoke a live key; False when there is none by that name."""
        ...

    def all(self) -> list[ApiKey]:
        """Every key, oldest first."""
        ...


class AnomalyRepository(Protocol):
    """Agent anomalies (the durable record of every block), inside a unit of work."""

    def add_open(self, anomaly: Anomaly) -> bool:
        """Store a new open anomaly; False (nothing stored) when its subject already has one of its kind open."""
        ...

    def open_for(self, subjects: Sequence[str], kinds: Sequence[str] | None = None) -> Anomaly | None:
        """An open anomaly of any of the subjects (`agent:<id>`, `key:<name>`), of the kinds (default all)."""
        ...

    def get(self, anomaly_id: str) -> Anomaly | None:
        """An anomaly by id, or None."""
        ...

    def listed(self, open_only: bool | None, limit: int) -> list[Anomaly]:
        """Newest first: every anomaly (None), only open ones (True) or only cleared ones (False)."""
        ...

    def clear(self, anomaly: Anomaly) -> bool:
        """Write the clearing (cleared_at, cleared_by, clear_reason) if still open; False if it was not."""
        ...


class UnitOfWork(Protocol):
    """One database transaction across every repository."""

    @property
    def customers(self) -> CustomerRepository:
        """Customers in this transaction."""
        ...

    @property
    def verifications(self) -> VerificationRepository:
        """Verification records in this transaction."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The audit trail in this transaction."""
        ...

    @property
    def api_keys(self) -> ApiKeyRepository:
        """API keys in this transaction."""
        ...

    @property
    def challenges(self) -> ChallengeRepository:
        """One-time code challenges in this transaction."""
        ...

    @property
    def approvals(self) -> ApprovalRepository:
        """Approval requests in this transaction."""
        ...

    @property
    def outbox(self) -> OutboxRepository:
        """The outbox in this transaction."""
        ...

    @property
    def users(self) -> UserRepository:
        """Console users in this transaction."""
        ...

    @property
    def contacts(self) -> ContactRepository:
        """Agents' contacts with customers in this transaction."""
        ...

    @property
    def entry_links(self) -> EntryLinkRepository:
        """Entry links in this transaction."""
        ...

    @property
    def agent_profiles(self) -> AgentProfileRepository:
        """Agents' display names in this transaction."""
        ...

    @property
    def anomalies(self) -> AnomalyRepository:
        """Agent anomalies in this transaction."""
        ...

    def __enter__(self) -> UnitOfWork:
        """Begin."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None:
        """Make the work durable."""
        ...


class UnitOfWorkFactory(Protocol):
    """Makes units of work: `write=True` for ones that change data, `snapshot=True` for multi-read consistency."""

    def __call__(self, *, write: bool = False, snapshot: bool = False) -> UnitOfWork:
        """A new unit of work."""
        ...


class AttemptCounter(Protocol):
    """Failed attempts per customer, atomic across every instance."""

    def record_failure(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> FailureOutcome:
        """Count a failure unless locked; lock at the threshold.

        A counter that shares its store with the agent watch's window counts `carry` in the same atomic call (a
        failure if this one was counted) and sets `carry.counts`; any other leaves it alone. A counter whose call
        can time out after reaching its store (Redis) counts a `check_id` once, however often the call runs, and
        raises UncertainWrite when it cannot tell whether the change happened.
        """
        ...

    def record_success(self, key: str, now: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> datetime | None:
        """Reset the count unless locked; return the lock's end if locked (`carry`: as record_failure).

        Asked only while the customer's row holds no running lock (CheckService looks there first): a counter
        Redis forgot is then reset without a rebuild, which could only have found a lock the row would hold.
        """
        ...

    def state(self, key: str, now: datetime, policy: LockoutPolicy) -> AttemptState:
        """Failures in the window and any running lock."""
        ...

    def forget_failure(self, key: str, at: datetime, policy: LockoutPolicy, carry: CarriedAct | None = None,
                       check_id: str | None = None) -> bool:
        """Undo the failure counted at `at` and the lock it set (its check could not be recorded or answered).

        `carry`: the act this counter carried with that failure, taken back out of the agent watch's window too.
        `check_id`: the check whose failure to take back; a counter that counts ids once (Redis) also makes sure
        that check's count, still on its way, will never happen. Idempotent; never takes back another failure.
        """
        ...

    def clear(self, key: str) -> None:
        """Forget the customer's failures and lock."""
        ...

    def ping(self) -> None:
        """Raise DependencyUnavailable when the store does not answer."""
        ...


class FailureHistory(Protocol):
    """The durable record of failed checks, for a counter that was forgotten (Redis restart, eviction)."""

    def rebuild(self, key: str, now: datetime, policy: LockoutPolicy) -> CounterRecord:
        """The counter state the stored check records imply now."""
        ...


class AgentActivity(Protocol):
    """What each watched agent and key did in a sliding window, atomic across every instance."""

    def record(self, subjects: Sequence[str], activity: Activity, now: datetime,
               window: timedelta) -> list[WindowCounts]:
        """Count one act for every subject (one round trip); each subject's counts inside the window after it."""
        ...

    def reset(self, subject: str) -> None:
        """Forget a subject's acts (its anomaly was cleared)."""
        ...


class ActivityWatch(Protocol):
    """What the check and code services tell the agent watch (domain.agent_watch.AgentWatch)."""

    def admit(self, agent_id: str | None, actor: Actor, action: str = "check") -> None:
        """Refuse before anything is evaluated: 403 for an agent_id the credential may not assert, 429
        agent_blocked when the agent or key is blocked."""
        ...

    def acting(self, account_id: str, agent_id: str | None, actor: Actor,
               action: str) -> AbstractContextManager[None]:
        """Admit an act about one customer, and count that customer once it ran (or was refused about them)."""
        ...

    def guard(self, agent_id: str | None, actor: Actor, action: str = "check") -> None:
        """429 agent_blocked while the agent or key is blocked (with `block`); nothing is counted."""
        ...

    def carry_check(self, agent_id: str | None, actor: Actor, account_id: str, ref: str) -> CarriedAct | None:
        """The act of a check about to be counted, for the lockout counter to carry (None: nobody is watched)."""
        ...

    def checked(self, verification: Verification, actor: Actor, carried: CarriedAct | None = None) -> None:
        """Count an answered check (unless the lockout counter carried it: then judge its counts)."""
        ...

    def sent(self, challenge: Challenge, actor: Actor) -> None:
        """Count a code send."""
        ...
