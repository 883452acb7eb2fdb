"""Contacts: `ticket_key`, the normalised ticket reference contacts are matched by (`ticket_ref` keeps what the
agent typed, for display).

Revision ID: 0011_contact_ticket_key
Revises: 0010_anchor_receipts
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa

# The running version's rule, on purpose: the service compares new starts with the stored keys by this rule, so
# the stored keys must be made by it too (a frozen copy would drift from it).
from verify_service.domain.text import TICKET_KEY_MAX, ticket_key


# revision identifiers, used by Alembic.
revision = "0011_contact_ticket_key"
down_revision = "0010_anchor_receipts"
branch_labels = None
depends_on = None

_contacts = sa.table("contacts", sa.column("id", sa.String), sa.column("ticket_ref", sa.String),
                     sa.column("ticket_key", sa.String))


def upgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_key", sa.String(length=255), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(_contacts.c.id, _contacts.c.ticket_ref)).all():
        key = ticket_key(row.ticket_ref)[:TICKET_KEY_MAX] or row.ticket_ref
        conn.execute(_contacts.update().where(_contacts.c.id == row.id).values(ticket_key=key))
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("ticket_key", existing_type=sa.String(length=255), nullable=False)


def downgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("ticket_key")
