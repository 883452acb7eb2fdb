"""Checks record how the PIN was entered (`entry`: agent, keypad or link) and the phone call they were made on
(`call_ref`, indexed for the agent's screen pop) (issue 18 parts 1 and 3). Existing checks were all typed by
agents: they get `entry = 'agent'`.

Revision ID: 0013_verification_entry
Revises: 0012_agent_binding
Create Date: 2026-12-07 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_verification_entry"
down_revision = "0012_agent_binding"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("entry", sa.String(length=8), nullable=False, server_default="agent"))
        batch_op.add_column(sa.Column("call_ref", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_verifications_call_ref", ["call_ref"], unique=False)


def downgrade():
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_verifications_call_ref")
        batch_op.drop_column("call_ref")
        batch_op.drop_column("entry")
