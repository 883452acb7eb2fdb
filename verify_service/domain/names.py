"""The service's named values: check results, factor outcomes, statuses and audit event names.

The domain uses these members; the API schemas derive their enumerations (and the OpenAPI `enum`s) from them.
Members are `StrEnum`s, so they compare equal to, store as and serialise as their plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class CheckResult(StrEnum):
    """A check's `result`."""

    VERIFIED = "verified"
    REJECTED = "rejected"
    LOCKED = "locked"
    FROZEN = "frozen"


class Entry(StrEnum):
    """How a check's PIN reached the service: typed by an agent, on the caller's keypad, or on an entry link."""

    AGENT = "agent"
    KEYPAD = "keypad"
    LINK = "link"


class FactorResult(StrEnum):
    """What one factor of a check gave."""

    MATCH = "match"
    MISMATCH = "mismatch"
    EXPIRED = "expired"
    NOT_CHECKED = "not_checked"


class CustomerStatus(StrEnum):
    """The customer summary's `status`."""

    ACTIVE = "active"
    LOCKED = "locked"
    FROZEN = "frozen"


class ChallengeStatus(StrEnum):
    """A one-time code's status (`killed`: 3 wrong entries)."""

    PENDING = "pending"
    VERIFIED = "verified"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    KILLED = "killed"


class ApprovalStatus(StrEnum):
    """An approval request's status (`used`: a check took it; `superseded`: a newer request replaced it)."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    USED = "used"


class DeliveryStatus(StrEnum):
    """Where a code's message is."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class ContactStatus(StrEnum):
    """An agent's contact with a customer (`expired`: past its lifetime, decided by the clock)."""

    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"


class EntryLinkStatus(StrEnum):
    """An entry link's status: open (`pending`, `rejected`: the customer may try again) or dead (the rest)."""

    PENDING = "pending"
    REJECTED = "rejected"
    VERIFIED = "verified"
    LOCKED = "locked"
    FROZEN = "frozen"
    EXPIRED = "expired"


class AuditEventName(StrEnum):
    """Every audit event the service writes."""

    CUSTOMER_REGISTERED = "customer_registered"
    CUSTOMER_UPDATED = "customer_updated"
    PIN_ISSUED = "pin_issued"
    PIN_VIEWED = "pin_viewed"
    PIN_ROTATED = "pin_rotated"
    PINS_REKEYED = "pins_rekeyed"
    VERIFICATION_SUCCEEDED = "verification_succeeded"
    VERIFICATION_FAILED = "verification_failed"
    VERIFICATION_BLOCKED = "verification_blocked"
    CUSTOMER_LOCKED = "customer_locked"
    CUSTOMER_UNLOCKED = "customer_unlocked"
    CUSTOMER_FROZEN = "customer_frozen"
    CUSTOMER_UNFROZEN = "customer_unfrozen"
    CUSTOMER_CLOSED = "customer_closed"
    CODE_SENT = "code_sent"
    CODE_DELIVERY_FAILED = "code_delivery_failed"
    TOTP_ENROLLED = "totp_enrolled"
    TOTP_REMOVED = "totp_removed"
    CONSOLE_SIGNED_IN = "console_signed_in"
    CONSOLE_SIGNED_OUT = "console_signed_out"
    CONSOLE_SIGN_IN_FAILED = "console_sign_in_failed"
    CONSOLE_SIGN_IN_THROTTLED = "console_sign_in_throttled"
    CONSOLE_USER_CREATED = "console_user_created"
    CONSOLE_USER_DISABLED = "console_user_disabled"
    CONSOLE_USER_ENABLED = "console_user_enabled"
    CONSOLE_PASSWORD_RESET = "console_password_reset"
    CONSOLE_USERS_LISTED = "console_users_listed"
    CONTACT_STARTED = "contact_started"
    CONTACT_ENDED = "contact_ended"
    CONTACT_REPORTED = "contact_reported"
    AGENT_NAMED = "agent_named"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_APPROVED = "approval_approved"
    APPROVAL_DENIED = "approval_denied"
    APPROVAL_USED = "approval_used"
    AGENT_ANOMALY = "agent_anomaly"
    ENTRY_LINK_CREATED = "entry_link_created"
    ENTRY_LINK_USED = "entry_link_used"
    AGENT_ANOMALY_CLEARED = "agent_anomaly_cleared"


class AnomalySubject(StrEnum):
    """Who an agent anomaly is about: an agent_id, or an API key."""

    AGENT = "agent"
    KEY = "key"


class AnomalyKind(StrEnum):
    """Which threshold an agent anomaly crossed."""

    DISTINCT_CUSTOMERS = "distinct_customers"
    FAILURES = "failures"
