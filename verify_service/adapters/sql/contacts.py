"""SQL repositories for contacts (reverse verification) and agents' display names."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.tables import agent_profiles, contacts
from verify_service.domain.agents import AgentProfile
from verify_service.domain.contacts import Contact
from verify_service.domain.model import SealedSecret

_CONTACT_FIELDS = ("account_id", "agent_id", "channel", "ticket_ref", "started_at", "expires_at", "ended_at",
                   "reported_at", "report_reason", "owner")


def _contact(row: RowMapping) -> Contact:
    """Map a contacts row."""
    return Contact(contact_id=row["id"], phrase=SealedSecret(row["phrase_key_id"], bytes(row["phrase_blob"])),
                   **{name: row[name] for name in _CONTACT_FIELDS})


class SqlContactRepository:
    """Contacts; ending and reporting are single UPDATEs guarded by the stored state (races change once)."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, contact: Contact) -> None:
        """Insert a new contact."""
        self._conn.execute(contacts.insert().values(
            id=contact.contact_id, phrase_key_id=contact.phrase.key_id, phrase_blob=contact.phrase.blob,
            ticket_key=contact.ticket_key,
            **{name: getattr(contact, name) for name in _CONTACT_FIELDS}))

    def get(self, contact_id: str) -> Contact | None:
        """A contact by id."""
        row = self._conn.execute(sa.select(contacts).where(contacts.c.id == contact_id)).mappings().first()
        return _contact(row) if row else None

    def active(self, account_id: str, now: datetime, *, ticket_key: str | None = None) -> list[Contact]:
        """Not ended and not expired at `now` (of one ticket key, if given), oldest first."""
        query = sa.select(contacts).where(contacts.c.account_id == account_id, contacts.c.expires_at > now,
                                          contacts.c.ended_at.is_(None))
        if ticket_key is not None:
            query = query.where(contacts.c.ticket_key == ticket_key)
        rows = self._conn.execute(query.order_by(contacts.c.started_at, contacts.c.id)).mappings()
        return [_contact(row) for row in rows]

    def end(self, contact_id: str, at: datetime) -> bool:
        """Set ended_at unless it is set."""
        result = self._conn.execute(contacts.update().where(contacts.c.id == contact_id,
                                                            contacts.c.ended_at.is_(None)).values(ended_at=at))
        return result.rowcount == 1

    def report(self, contact_id: str, at: datetime, reason: str | None) -> bool:
        """Set reported_at (and the reason) unless it is set."""
        result = self._conn.execute(contacts.update().where(contacts.c.id == contact_id,
                                                            contacts.c.reported_at.is_(None))
                                    .values(reported_at=at, report_reason=reason))
        return result.rowcount == 1


def _profile(row: RowMapping) -> AgentProfile:
    """Map an agent_profiles row."""
    return AgentProfile(agent_id=row["agent_id"], display_name=row["display_name"], updated_at=row["updated_at"],
                        keys=tuple(row["keys"].split(",")) if row["keys"] else ())


class SqlAgentProfileRepository:
    """Agents' display names in `agent_profiles`."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def get(self, agent_id: str) -> AgentProfile | None:
        """One profile."""
        row = self._conn.execute(sa.select(agent_profiles).where(agent_profiles.c.agent_id == agent_id)
                                 ).mappings().first()
        return _profile(row) if row else None

    def put(self, profile: AgentProfile) -> None:
        """Update the row, or insert it when there is none."""
        values = {"display_name": profile.display_name, "updated_at": profile.updated_at,
                  "keys": ",".join(profile.keys) or None}
        updated = self._conn.execute(agent_profiles.update().where(agent_profiles.c.agent_id == profile.agent_id)
                                     .values(**values))
        if updated.rowcount == 0:
            self._conn.execute(agent_profiles.insert().values(agent_id=profile.agent_id, **values))

    def all(self) -> list[AgentProfile]:
        """Every profile, by agent_id."""
        rows = self._conn.execute(sa.select(agent_profiles).order_by(agent_profiles.c.agent_id)).mappings()
        return [_profile(row) for row in rows]
