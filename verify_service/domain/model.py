"""Plain records the domain works with (no framework imports)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def rfc3339(moment: datetime) -> str:
    """`2026-11-23T04:05:06Z`: whole seconds, UTC, the contract's time format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def round_up_to_second(moment: datetime) -> datetime:
    """A deadline shown in whole seconds: rounded up, so whoever waits until it is never early."""
    return moment.replace(microsecond=0) + timedelta(seconds=1) if moment.microsecond else moment


def rfc3339_deadline(moment: datetime) -> str:
    """A deadline in the contract's format, rounded up."""
    return rfc3339(round_up_to_second(moment))


@dataclass(frozen=True)
class SealedSecret:
    """A secret encrypted under one key of the ring; useless without that key."""

    key_id: str
    blob: bytes


@dataclass
class Customer:
    """A platform account holder as the service knows them."""

    account_id: str
    phone: str
    locale: str
    created_at: datetime
    updated_at: datetime
    email: str | None = None
    second_factor: str = "sms"
    pin: SealedSecret | None = None
    pin_issued_at: datetime | None = None
    frozen_at: datetime | None = None
    locked_until: datetime | None = None
    unlocked_at: datetime | None = None
    phone_changed_at: datetime | None = None
    totp: SealedSecret | None = None
    totp_pending: SealedSecret | None = None
    totp_last_step: int | None = None
    closed_at: datetime | None = None

    @property
    def closed(self) -> bool:
        """The account was closed: its personal data and secrets are erased, every call on it answers 410."""
        return self.closed_at is not None

    @property
    def frozen(self) -> bool:
        """True while a supervisor's freeze is in force."""
        return self.frozen_at is not None


@dataclass(frozen=True)
class Actor:
    """Who asked: the API key's name (or `console`), the client address, and the console user if any."""

    key_name: str
    ip: str | None = None
    agent_id: str | None = None
    roles: tuple[str, ...] = ()  # the API key's roles (none for the console)
    agent_ids: tuple[str, ...] = ()  # the agent_id patterns the API key may assert (none: unrestricted)

    @property
    def owner(self) -> str:
        """Who owns what this actor starts: `user:<username>` for a console session, else `key:<key name>`."""
        return f"user:{self.agent_id}" if self.agent_id is not None else f"key:{self.key_name}"


@dataclass(frozen=True)
class Verification:
    """The record of one caller check, confirmable later by its id."""

    verification_id: str
    account_id: str
    verified: bool
    result: str
    factors: dict[str, str]
    level: int
    attempts_remaining: int
    locked_until: datetime | None
    checked_at: datetime
    valid_until: datetime | None
    channel: str
    agent_id: str
    ticket_ref: str | None
    actor: str
    entry: str = "agent"  # domain.names.Entry: agent, keypad or link
    call_ref: str | None = None  # the phone call (Twilio CallSid, a platform's contact id) the check was made on

    @property
    def locked_by_this_check(self) -> bool:
        """This check was the failure that reached the threshold."""
        return self.result == "rejected" and self.locked_until is not None

    def valid_at(self, now: datetime) -> bool:
        """Verified and still inside its validity period."""
        return self.verified and self.valid_until is not None and now < self.valid_until


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the trail, before it is chained."""

    event: str
    at: datetime
    account_id: str | None = None
    actor: str | None = None
    agent_id: str | None = None
    channel: str | None = None
    ticket_ref: str | None = None
    ip: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AnchorReceipt:
    """A signed note that the scheduled anchor taken at `at` reached the events webhook."""

    at: datetime
    key_id: str
    tag: str


@dataclass(frozen=True)
class ChainedEvent:
    """An audit event as stored, with its place in the hash chain."""

    id: int
    event: AuditEvent
    chain: str
    seq: int
    prev_hash: str
    hash: str
    key_id: str = ""
    chain_format: int = 2  # domain.audit.CHAIN_FORMAT: the HMAC covers the id; 1 for events from before 0006


@dataclass(frozen=True)
class ChainCut:
    """A chain's newest archived event (where the database's part of the chain starts), MAC'd under an audit key."""

    chain: str
    seq: int
    hash: str
    key_id: str = ""
    tag: str = ""


@dataclass
class ChainState:
    """One chain as `audit verify` reads it: its head, its archive cut, and the events still in the database."""

    chain: str
    head: tuple[int, str] | None
    cut: ChainCut | None
    events: Iterator[ChainedEvent]


@dataclass(frozen=True)
class SegmentRecord:
    """An archive segment the database knows was written: its number, cut and signed checkpoint's signature."""

    number: int
    cut_at: datetime
    cut_id: int
    events: int
    signature: str


@dataclass(frozen=True)
class AuditQuery:
    """Filters and a page position for reading the trail."""

    account_id: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    before_id: int | None = None


@dataclass(frozen=True)
class ChecksQuery:
    """One agent_id's or one API key's checks, newest first, a page at a time (admins and supervisors only)."""

    agent_id: str | None = None
    key: str | None = None
    limit: int = 50
    before: tuple[datetime, str] | None = None  # (checked_at, verification_id) of the previous page's last check


@dataclass(frozen=True)
class ApiKey:
    """A named API key as stored (only its hash is kept)."""

    name: str
    roles: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None = None
    agent_ids: tuple[str, ...] = ()  # agent_id patterns it may assert; none: any agent_id but a console username

    @property
    def unrestricted_agent(self) -> bool:
        """A live agent key that may assert any agent_id (production warns about each at start-up)."""
        return "agent" in self.roles and not self.agent_ids and self.revoked_at is None


@dataclass
class Challenge:
    """One one-time code sent to a customer; the code itself is kept only as a keyed MAC."""

    challenge_id: str
    account_id: str
    channel: str
    destination_masked: str
    code_mac: SealedSecret
    created_at: datetime
    expires_at: datetime
    resend_available_at: datetime
    status: str = "pending"
    wrong_entries: int = 0
    delivery: str = "queued"
    agent_id: str | None = None
    ticket_ref: str | None = None
    destination_mac: bytes | None = None  # keyed hash of the E.164 number, for the per-number SMS cap
    actor: str | None = None  # the API key's name (or `console`), for the per-key SMS cap

    def status_at(self, now: datetime) -> str:
        """`pending`, `verified`, `expired`, `superseded` or `killed`."""
        if self.status == "pending" and now >= self.expires_at:
            return "expired"
        return self.status


@dataclass
class Approval:
    """An agent's request that the signed-in customer approve or deny on their account page."""

    approval_id: str
    account_id: str
    reason: str
    agent_id: str
    channel: str
    created_at: datetime
    expires_at: datetime
    status: str = "pending"
    ticket_ref: str | None = None
    answered_at: datetime | None = None
    used_at: datetime | None = None
    actor: str | None = None

    def status_at(self, now: datetime) -> str:
        """The status now: a pending or approved request past `expires_at` is `expired`."""
        if self.status in ("pending", "approved") and now >= self.expires_at:
            return "expired"
        return self.status


@dataclass
class OutboxMessage:
    """A message waiting for delivery: an SMS (its text sealed) or a security event."""

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
    id: int | None = None
    claim_token: str | None = None
