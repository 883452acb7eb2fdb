"""The schema (SQLAlchemy Core); Alembic migrations are generated from it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in Python, whatever the database keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; SQLite gets a naive UTC value."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Always hand back an aware UTC datetime."""
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


customers = sa.Table(
    "customers", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(64), nullable=False, unique=True),
    sa.Column("phone", sa.String(20), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("locale", sa.String(8), nullable=False),
    sa.Column("second_factor", sa.String(8), nullable=False, server_default="sms"),
    sa.Column("pin_key_id", sa.String(32)),
    sa.Column("pin_blob", sa.LargeBinary(64)),
    sa.Column("pin_issued_at", UTCDateTime()),
    sa.Column("frozen_at", UTCDateTime()),
    sa.Column("locked_until", UTCDateTime()),
    sa.Column("phone_changed_at", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("totp_key_id", sa.String(32)),
    sa.Column("totp_blob", sa.LargeBinary(128)),
    sa.Column("totp_pending_key_id", sa.String(32)),
    sa.Column("totp_pending_blob", sa.LargeBinary(128)),
    sa.Column("totp_last_step", sa.BigInteger()),
    sa.Column("unlocked_at", UTCDateTime()),
    # Set when the account was closed: its personal data and secrets are gone, the id stays (never reused).
    sa.Column("closed_at", UTCDateTime()),
)
sa.Index("ix_customers_pin_key_id", customers.c.pin_key_id)

verifications = sa.Table(
    "verifications", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("verified", sa.Boolean(), nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("factor_pin", sa.String(16), nullable=False),
    sa.Column("factor_code", sa.String(16), nullable=False),
    sa.Column("level", sa.SmallInteger(), nullable=False),
    sa.Column("attempts_remaining", sa.SmallInteger(), nullable=False),
    sa.Column("locked_until", UTCDateTime()),
    sa.Column("checked_at", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime()),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("ticket_ref", sa.String(64)),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("factor_approval", sa.String(16)),  # null: no approval_id was given
    sa.Column("entry", sa.String(8), nullable=False, server_default="agent"),  # agent, keypad or link
    sa.Column("call_ref", sa.String(64)),  # the phone call: Twilio's CallSid or a voice platform's contact id
)
# A customer's recent checks: the failure count is rebuilt from them when Redis forgot it.
sa.Index("ix_verifications_account_id_checked_at", verifications.c.account_id, verifications.c.checked_at)
# A call's checks, for the agent's screen pop (GET /v1/verifications?call_ref=).
sa.Index("ix_verifications_call_ref", verifications.c.call_ref)
# Retention removes the oldest checks, a batch at a time.
sa.Index("ix_verifications_checked_at", verifications.c.checked_at)
# An agent's or a key's checks, for admins and supervisors (GET /v1/verifications?agent_id= / ?key=).
sa.Index("ix_verifications_agent_id_checked_at", verifications.c.agent_id, verifications.c.checked_at)
sa.Index("ix_verifications_actor_checked_at", verifications.c.actor, verifications.c.checked_at)

audit_events = sa.Table(
    "audit_events", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("chain", sa.String(64), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("account_id", sa.String(64)),
    sa.Column("actor", sa.String(64)),
    sa.Column("agent_id", sa.String(64)),
    sa.Column("channel", sa.String(8)),
    sa.Column("ticket_ref", sa.String(64)),
    sa.Column("ip", sa.String(64)),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    # 1: written before migration 0006, the HMAC does not cover the id; 2: it does.
    sa.Column("chain_format", sa.SmallInteger(), nullable=False, server_default=sa.text("1")),
    sa.UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),
)
sa.Index("ix_audit_events_account_id_id", audit_events.c.account_id, audit_events.c.id)
sa.Index("ix_audit_events_event_id", audit_events.c.event, audit_events.c.id)
sa.Index("ix_audit_events_at", audit_events.c.at)

audit_heads = sa.Table(
    "audit_heads", metadata,
    sa.Column("chain", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# "heads": when the chain heads were last anchored, so that one process in the whole deployment takes each
# scheduled turn (a hint only: the anchors' age comes from what was written). "delivered": the newest anchor
# the events webhook accepted, with a MAC under the audit key (key_id, tag) that a database writer cannot forge.
audit_anchors = sa.Table(
    "audit_anchors", metadata,
    sa.Column("name", sa.String(16), primary_key=True),
    sa.Column("last_at", UTCDateTime()),
    sa.Column("key_id", sa.String(32)),
    sa.Column("tag", sa.String(64)),
)

# Each archived chain's newest archived event (issue 20.2): the database's part of the chain follows it. The tag is
# an HMAC under the audit key (key_id), so a database writer cannot move a cut to hide deleted events.
audit_cuts = sa.Table(
    "audit_cuts", metadata,
    sa.Column("chain", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("tag", sa.String(64), nullable=False),
)

# The archive segments written, in order: a segment counts as written once its row is committed (after its file
# was fsynced); its events are deleted only after that.
audit_segments = sa.Table(
    "audit_segments", metadata,
    sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("cut_at", UTCDateTime(), nullable=False),
    sa.Column("cut_id", BigId, nullable=False),
    sa.Column("events", sa.BigInteger(), nullable=False),
    sa.Column("signature", sa.String(64), nullable=False),
    sa.Column("written_at", UTCDateTime(), nullable=False),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("roles", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime()),
    # The agent_id patterns the key may assert, comma-separated (NULL: any agent_id but a console username).
    sa.Column("agent_ids", sa.String(200)),
)

attempt_counters = sa.Table(
    "attempt_counters", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Text(), nullable=False, server_default=""),
    sa.Column("locked_until_ms", sa.BigInteger()),
)

challenges = sa.Table(
    "challenges", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("destination_masked", sa.String(32), nullable=False),
    sa.Column("code_key_id", sa.String(32), nullable=False),
    sa.Column("code_mac", sa.LargeBinary(32), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("wrong_entries", sa.SmallInteger(), nullable=False),
    sa.Column("delivery", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("resend_available_at", UTCDateTime(), nullable=False),
    sa.Column("agent_id", sa.String(64)),
    sa.Column("ticket_ref", sa.String(64)),
    sa.Column("destination_mac", sa.LargeBinary(32)),
    sa.Column("actor", sa.String(64)),
)
sa.Index("ix_challenges_account_id_created_at", challenges.c.account_id, challenges.c.created_at)
# The SMS caps count the last hour's sends per destination, per key and in all.
sa.Index("ix_challenges_destination_mac_created_at", challenges.c.destination_mac, challenges.c.created_at)
sa.Index("ix_challenges_actor_created_at", challenges.c.actor, challenges.c.created_at)
sa.Index("ix_challenges_created_at", challenges.c.created_at)

approvals = sa.Table(
    "approvals", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("ticket_ref", sa.String(64)),
    sa.Column("actor", sa.String(64)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("answered_at", UTCDateTime()),
    sa.Column("used_at", UTCDateTime()),
)
# A customer's recent requests: the pending ones, the hourly cap.
sa.Index("ix_approvals_account_id_created_at", approvals.c.account_id, approvals.c.created_at)
sa.Index("ix_approvals_expires_at", approvals.c.expires_at)  # retention

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(40), nullable=False, unique=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("account_id", sa.String(64)),
    sa.Column("challenge_id", sa.String(40)),
    sa.Column("payload_key_id", sa.String(32), nullable=False),
    sa.Column("payload_blob", sa.LargeBinary(), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime()),
    sa.Column("claimed_until", UTCDateTime()),
    sa.Column("claim_token", sa.String(40)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("last_error", sa.String(200)),
)
sa.Index("ix_outbox_status_next_attempt_at", outbox.c.status, outbox.c.next_attempt_at)
sa.Index("ix_outbox_account_id", outbox.c.account_id)  # closure deletes an account's messages by it

console_users = sa.Table(
    "console_users", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("disabled_at", UTCDateTime()),
    sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
)

# Reverse verification: an agent's contact with a customer; the phrase is sealed like a PIN.
contacts = sa.Table(
    "contacts", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("ticket_ref", sa.String(64), nullable=False),  # as the agent typed it, for display
    sa.Column("ticket_key", sa.String(255), nullable=False),  # what tickets are matched by (domain.text.ticket_key)
    sa.Column("phrase_key_id", sa.String(32), nullable=False),
    sa.Column("phrase_blob", sa.LargeBinary(64), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("ended_at", UTCDateTime()),
    sa.Column("reported_at", UTCDateTime()),
    sa.Column("report_reason", sa.String(500)),
    # Who started it, `key:<name>` or `user:<username>`: only they read its phrase or end it (NULL: nobody).
    sa.Column("owner", sa.String(80)),
)
# The account page asks for a customer's contacts that have not expired yet.
sa.Index("ix_contacts_account_id_expires_at", contacts.c.account_id, contacts.c.expires_at)
sa.Index("ix_contacts_expires_at", contacts.c.expires_at)  # retention

entry_links = sa.Table(
    "entry_links", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("agent_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("ticket_ref", sa.String(64)),
    # A keyed MAC of the token (VERIFY_PIN_KEYS), never the token: a copy of the table opens no link.
    sa.Column("token_key_id", sa.String(32), nullable=False),
    sa.Column("token_mac", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("owner", sa.String(80), nullable=False),  # `key:<name>` or `user:<username>`: who reads it
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("tries", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("verification_id", sa.String(40)),
    sa.Column("submission", sa.String(64)),  # the nonce of the form whose check runs or ran last
    sa.Column("checking_since", UTCDateTime()),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime()),
)
# The hourly caps: a customer's links, an agent's links (a key's: below).
sa.Index("ix_entry_links_account_id_created_at", entry_links.c.account_id, entry_links.c.created_at)
sa.Index("ix_entry_links_agent_id_created_at", entry_links.c.agent_id, entry_links.c.created_at)
sa.Index("ix_entry_links_expires_at", entry_links.c.expires_at)  # the retention sweep
sa.Index("ix_entry_links_owner_created_at", entry_links.c.owner, entry_links.c.created_at)  # the cap per key

agent_profiles = sa.Table(
    "agent_profiles", metadata,
    sa.Column("agent_id", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # The key names allowed to show this name, comma-separated (NULL: any credential that may assert the id).
    sa.Column("keys", sa.String(500)),
)
# Agent misuse anomalies: the durable record of every block. `open_key` is set while open and NULL once
# cleared, so the unique index allows one open anomaly per subject and kind (NULLs never collide).
agent_anomalies = sa.Table(
    "agent_anomalies", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject_kind", sa.String(8), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("count", sa.Integer(), nullable=False),
    sa.Column("threshold", sa.Integer(), nullable=False),
    sa.Column("window_seconds", sa.Integer(), nullable=False),
    sa.Column("raised_at", UTCDateTime(), nullable=False),
    sa.Column("cleared_at", UTCDateTime()),
    sa.Column("cleared_by", sa.String(64)),
    sa.Column("clear_reason", sa.String(500)),
    sa.Column("open_key", sa.String(120), unique=True),
    sa.Column("key_name", sa.String(64)),  # the credential of the act that raised it
    sa.Column("agent_id", sa.String(64)),  # the agent_id that act asserted
)
sa.Index("ix_agent_anomalies_raised_at", agent_anomalies.c.raised_at)

# What watched agents and keys did in the last window (single-instance mode; Redis keeps it otherwise).
agent_activity = sa.Table(
    "agent_activity", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("subject", sa.String(80), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("is_check", sa.Boolean(), nullable=False),
    sa.Column("failed", sa.Boolean(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)
sa.Index("ix_agent_activity_subject_at", agent_activity.c.subject, agent_activity.c.at)
sa.Index("ix_agent_activity_at", agent_activity.c.at)  # retention: subjects that went quiet

# Scheduled chores that one process of the deployment takes a turn at (retention): when each was last taken.
schedule_turns = sa.Table(
    "schedule_turns", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_at", UTCDateTime()),
)
