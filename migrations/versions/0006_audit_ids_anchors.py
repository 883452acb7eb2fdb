"""Audit: chain the event id (new events are format 2) and keep when the chain heads were last anchored.

Events written before this revision stay format 1: they verify as they were written, their id not covered.

Revision ID: 0006_audit
Revises: 0005_sms
Create Date: 2026-12-02 15:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0006_audit"
down_revision = "0005_sms"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_format", sa.SmallInteger(), nullable=False,
                                      server_default=sa.text("1")))
    op.create_table(
        "audit_anchors",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_anchors")),
    )


def downgrade():
    op.drop_table("audit_anchors")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("chain_format")
