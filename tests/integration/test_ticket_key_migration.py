"""Migration 0010: contacts made before it get their ticket key, so a start after the upgrade finds them."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from verify_service.domain.contacts import StartRequest
from verify_service.domain.model import Actor
from verify_service.errors import Conflict

NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


@pytest.fixture
def app(unmigrated_app):
    return unmigrated_app


def _old_contact(conn, contact_id, ticket_ref):
    """A contacts row as 0009 stored it (no ticket_key)."""
    conn.execute(sa.text(
        "INSERT INTO contacts (id, account_id, agent_id, channel, ticket_ref, phrase_key_id, phrase_blob, "
        "started_at, expires_at) VALUES (:id, 'JP1001', 'agent-42', 'phone', :ref, 'k', :blob, :at, :until)"),
        {"id": contact_id, "ref": ticket_ref, "blob": b"x", "at": NOW - timedelta(minutes=1),
         "until": NOW + timedelta(minutes=9)})


def test_upgrading_gives_old_contacts_their_ticket_key(app):
    services = app.extensions["verify"]
    with app.app_context():
        upgrade(revision="0010_anchor_receipts")
        with services.db.engine.begin() as conn:
            _old_contact(conn, "con_a", "\uff34\u2010100 ")
            _old_contact(conn, "con_b", "T-2\u200b")  # stored before format characters were refused
        upgrade()
        with services.db.engine.connect() as conn:
            keys = dict(conn.execute(sa.text("SELECT id, ticket_key FROM contacts ORDER BY id")).all())
        assert keys == {"con_a": "t-100", "con_b": "t-2"}
        services.customers.register_or_update("JP1001", {"phone": "+819012345678"}, Actor("portal"))
        with pytest.raises(Conflict):  # the contact stored before the upgrade holds the ticket
            services.contacts.start(StartRequest("JP1001", "agent-7", "phone", "T-100"), Actor("agent"))
        downgrade(revision="0010_anchor_receipts")
        with services.db.engine.connect() as conn:
            assert "ticket_key" not in {c["name"] for c in sa.inspect(conn).get_columns("contacts")}
