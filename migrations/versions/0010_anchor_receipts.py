"""Audit anchors: the events webhook's newest accepted anchor is kept with a MAC (issue 17.7).

Revision ID: 0010_anchor_receipts
Revises: 0009_agent_watch
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0010_anchor_receipts"
down_revision = "0009_agent_watch"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("tag", sa.String(length=64), nullable=True))


def downgrade():
    op.execute(sa.text("DELETE FROM audit_anchors WHERE name = 'delivered'"))
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.drop_column("tag")
        batch_op.drop_column("key_id")
