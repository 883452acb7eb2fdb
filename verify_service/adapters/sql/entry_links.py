"""SQL repository for entry links: a link's use is claimed and finished by single UPDATEs guarded by its state."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from verify_service.adapters.sql.tables import entry_links
from verify_service.domain.entry_links import OPEN, EntryLink
from verify_service.domain.model import SealedSecret

_FIELDS = ("account_id", "agent_id", "channel", "ticket_ref", "owner", "status", "tries", "verification_id",
           "submission", "checking_since", "created_at", "expires_at", "used_at")
_OPEN = tuple(str(status) for status in OPEN)


def _link(row: RowMapping) -> EntryLink:
    """Map an entry_links row."""
    return EntryLink(link_id=row["id"], token_mac=SealedSecret(row["token_key_id"], bytes(row["token_mac"])),
                     **{name: row[name] for name in _FIELDS})


class SqlEntryLinkRepository:
    """Entry links in the `entry_links` table."""

    def __init__(self, conn: Connection):
        self._conn = conn

    def add(self, link: EntryLink) -> None:
        """Insert a new link."""
        self._conn.execute(entry_links.insert().values(
            id=link.link_id, token_key_id=link.token_mac.key_id, token_mac=link.token_mac.blob,
            **{name: getattr(link, name) for name in _FIELDS}))

    def get(self, link_id: str) -> EntryLink | None:
        """A link by id."""
        row = self._conn.execute(sa.select(entry_links).where(entry_links.c.id == link_id)).mappings().first()
        return _link(row) if row else None

    def by_token_mac(self, macs: list[bytes]) -> EntryLink | None:
        """The link with one of these token MACs (through the unique index)."""
        row = self._conn.execute(sa.select(entry_links).where(entry_links.c.token_mac.in_(macs))).mappings().first()
        return _link(row) if row else None

    def created_since(self, since: datetime, *, account_id: str | None = None, agent_id: str | None = None,
                      owner: str | None = None) -> list[datetime]:
        """Creation times after `since`, oldest first, of one customer's, agent's or credential's links."""
        if owner is not None:  # through the (owner, created_at) index
            where = [entry_links.c.owner == owner]
        elif account_id is not None:  # through the (account_id, created_at) index
            where = [entry_links.c.account_id == account_id]
        else:  # through the (agent_id, created_at) index
            where = [entry_links.c.agent_id == agent_id]
        query = (sa.select(entry_links.c.created_at).where(*where, entry_links.c.created_at > since)
                 .order_by(entry_links.c.created_at))
        return list(self._conn.execute(query).scalars())

    def claim(self, link_id: str, submission: str, now: datetime, stale_before: datetime) -> bool:
        """One guarded UPDATE: of two forms sent at once, one takes the link."""
        result = self._conn.execute(entry_links.update().where(
            entry_links.c.id == link_id, entry_links.c.status.in_(_OPEN), entry_links.c.expires_at > now,
            sa.or_(entry_links.c.checking_since.is_(None), entry_links.c.checking_since < stale_before),
            sa.or_(entry_links.c.submission.is_(None), entry_links.c.submission != submission),
        ).values(submission=submission, checking_since=now, tries=entry_links.c.tries + 1))
        return result.rowcount == 1

    def finish(self, link_id: str, submission: str, status: str, verification_id: str, now: datetime) -> bool:
        """Record the check's result, if this form still holds the link."""
        dead = status not in _OPEN
        result = self._conn.execute(entry_links.update().where(
            entry_links.c.id == link_id, entry_links.c.submission == submission,
            entry_links.c.status.in_(_OPEN)).values(status=status, verification_id=verification_id,
                                                    checking_since=None, used_at=now if dead else None))
        return result.rowcount == 1

    def release(self, link_id: str, submission: str) -> None:
        """Drop the claim of a form whose check failed."""
        self._conn.execute(entry_links.update().where(
            entry_links.c.id == link_id, entry_links.c.submission == submission,
            entry_links.c.checking_since.is_not(None)).values(checking_since=None, submission=None,
                                                               tries=entry_links.c.tries - 1))
