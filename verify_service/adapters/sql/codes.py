"""SQL repositories for one-time code challenges and the delivery outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.tables import challenges, outbox
from verify_service.domain.model import Challenge, OutboxMessage, SealedSecret

_CHALLENGE_FIELDS = ("account_id", "channel", "destination_masked", "status", "wrong_entries", "delivery",
                     "created_at", "expires_at", "resend_available_at", "agent_id", "ticket_ref", "actor")
# pg_advisory_xact_lock(namespace, key): the namespace keeps these apart from any other advisory lock.
_DESTINATION_LOCK_NAMESPACE = 0x534D53  # "SMS"


def _challenge(row: RowMapping) -> Challenge:
    """Map a challenges row."""
    mac = row["destination_mac"]
    return Challenge(challenge_id=row["id"], code_mac=SealedSecret(row["code_key_id"], bytes(row["code_mac"])),
                     destination_mac=bytes(mac) if mac is not None else None,
                     **{name: row[name] for name in _CHALLENGE_FIELDS})


class SqlChallengeRepository:
    """One-time code challenges; changes that race are single UPDATEs with a status guard."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, challenge: Challenge) -> None:
        """Insert a new challenge."""
        values = {name: getattr(challenge, name) for name in _CHALLENGE_FIELDS}
        self._conn.execute(challenges.insert().values(
            id=challenge.challenge_id, code_key_id=challenge.code_mac.key_id, code_mac=challenge.code_mac.blob,
            destination_mac=challenge.destination_mac, **values))

    def get(self, challenge_id: str) -> Challenge | None:
        """A challenge by id."""
        row = self._conn.execute(sa.select(challenges).where(challenges.c.id == challenge_id)).mappings().first()
        return _challenge(row) if row else None

    def latest(self, account_id: str) -> Challenge | None:
        """The customer's newest challenge, whatever its status."""
        query = (sa.select(challenges).where(challenges.c.account_id == account_id)
                 .order_by(challenges.c.created_at.desc(), challenges.c.id.desc()).limit(1))
        row = self._conn.execute(query).mappings().first()
        return _challenge(row) if row else None

    def sent_since(self, account_id: str, since: datetime) -> list[datetime]:
        """Send times of the customer's challenges since a moment, oldest first."""
        query = (sa.select(challenges.c.created_at)
                 .where(challenges.c.account_id == account_id, challenges.c.created_at > since)
                 .order_by(challenges.c.created_at))
        return list(self._conn.execute(query).scalars())

    def lock_destination(self, destination_mac: bytes) -> None:
        """On PostgreSQL a transaction-level advisory lock per destination; SQLite's write lock already serialises."""
        if self._conn.dialect.name != "postgresql":
            return
        key = int.from_bytes(destination_mac[:4], "big", signed=True)  # a shared key only serialises two numbers
        self._conn.execute(sa.text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                           {"namespace": _DESTINATION_LOCK_NAMESPACE, "key": key})

    def nth_latest_send(self, since: datetime, n: int, *, destination_mac: bytes | None = None,
                        actor: str | None = None) -> datetime | None:
        """The n-th newest send time after `since` (one index range scan of at most n entries)."""
        query = sa.select(challenges.c.created_at).where(challenges.c.created_at > since)
        if destination_mac is not None:
            query = query.where(challenges.c.destination_mac == destination_mac)
        if actor is not None:
            query = query.where(challenges.c.actor == actor)
        query = query.order_by(challenges.c.created_at.desc()).offset(n - 1).limit(1)
        found: datetime | None = self._conn.execute(query).scalar()
        return found

    def supersede_pending(self, account_id: str, now: datetime) -> int:
        """Retire the customer's pending challenges (expired ones stay `expired`)."""
        return self._conn.execute(challenges.update().where(
            challenges.c.account_id == account_id, challenges.c.status == "pending", challenges.c.expires_at > now)
            .values(status="superseded")).rowcount

    def consume(self, challenge_id: str) -> bool:
        """Use a pending challenge once; False if someone used or retired it first."""
        return self._conn.execute(challenges.update().where(
            challenges.c.id == challenge_id, challenges.c.status == "pending")
            .values(status="verified")).rowcount == 1

    def record_wrong(self, challenge_id: str, max_wrong: int) -> None:
        """Count a wrong entry; the code dies at max_wrong."""
        wrong = challenges.c.wrong_entries + 1
        self._conn.execute(challenges.update().where(
            challenges.c.id == challenge_id, challenges.c.status == "pending")
            .values(wrong_entries=wrong, status=sa.case((wrong >= max_wrong, "killed"), else_="pending")))

    def set_delivery(self, challenge_id: str, delivery: str) -> None:
        """Record what became of the challenge's message."""
        self._conn.execute(challenges.update().where(challenges.c.id == challenge_id).values(delivery=delivery))


_OUTBOX_FIELDS = ("message_id", "kind", "account_id", "challenge_id", "status", "attempts", "next_attempt_at",
                  "expires_at", "created_at", "id", "claim_token")


def _message(row: RowMapping) -> OutboxMessage:
    """Map an outbox row."""
    payload = SealedSecret(row["payload_key_id"], bytes(row["payload_blob"]))
    return OutboxMessage(payload=payload, **{name: row[name] for name in _OUTBOX_FIELDS})


class SqlOutboxRepository:
    """The durable outbox: rows are claimed with a lease, so two workers never send one message at once."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self.added = 0

    def add(self, message: OutboxMessage) -> None:
        """Queue a message in the caller's transaction."""
        self.added += 1
        values = {name: getattr(message, name) for name in _OUTBOX_FIELDS if name not in ("id", "claim_token")}
        self._conn.execute(outbox.insert().values(
            payload_key_id=message.payload.key_id, payload_blob=message.payload.blob, **values))

    def claim_due(self, now: datetime, limit: int, lease_until: datetime, token: str) -> list[OutboxMessage]:
        """Lease up to `limit` due messages to this worker (SKIP LOCKED on PostgreSQL)."""
        due = (sa.select(outbox.c.id)
               .where(outbox.c.status == "pending", outbox.c.next_attempt_at <= now,
                      sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now))
               .order_by(outbox.c.next_attempt_at, outbox.c.id).limit(limit).with_for_update(skip_locked=True))
        ids = list(self._conn.execute(due).scalars())
        if not ids:
            return []
        self._conn.execute(outbox.update().where(outbox.c.id.in_(ids))
                           .values(claimed_until=lease_until, claim_token=token))
        rows = self._conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)).mappings()
        return [_message(row) for row in rows]

    def finish(self, message: OutboxMessage, **values: Any) -> bool:
        """Record an attempt's result, only while this worker still holds the lease."""
        result = self._conn.execute(outbox.update().where(
            outbox.c.id == message.id, outbox.c.claim_token == message.claim_token)
            .values(claimed_until=None, claim_token=None, **values))
        return result.rowcount == 1

    def backlog(self) -> tuple[int, datetime | None]:
        """How many messages wait, and since when the oldest."""
        row = self._conn.execute(sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                                 .where(outbox.c.status == "pending")).one()
        return int(row[0]), row[1]
