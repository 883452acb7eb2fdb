"""Agent ids bound to credentials: a key's agent_id patterns, a contact's owner, the keys a display name is
tied to, and the key and agent_id behind an anomaly.

Contacts started before this migration have no owner: no agent can read or end them (admins still read them,
without the phrase); they expire within VERIFY_CONTACT_TTL_SECONDS.

Revision ID: 0012_agent_binding
Revises: 0011_contact_ticket_key
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_agent_binding"
down_revision = "0011_contact_ticket_key"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_ids", sa.String(length=200), nullable=True))
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=80), nullable=True))
    with op.batch_alter_table("agent_profiles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keys", sa.String(length=500), nullable=True))
    with op.batch_alter_table("agent_anomalies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("agent_id", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("agent_anomalies", schema=None) as batch_op:
        batch_op.drop_column("agent_id")
        batch_op.drop_column("key_name")
    with op.batch_alter_table("agent_profiles", schema=None) as batch_op:
        batch_op.drop_column("keys")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("owner")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("agent_ids")
