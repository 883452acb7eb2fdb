"""Checks listed by agent id or by API key for admins (`GET /v1/verifications?agent_id=` / `?key=`, newest first,
a page at a time): an index on (agent_id, checked_at) and one on (actor, checked_at) (issue 19 item 9).

Revision ID: 0014_verifications_by_agent
Revises: 0013_verification_entry
Create Date: 2026-12-07 19:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0014_verifications_by_agent"
down_revision = "0013_verification_entry"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index("ix_verifications_agent_id_checked_at", ["agent_id", "checked_at"], unique=False)
        batch_op.create_index("ix_verifications_actor_checked_at", ["actor", "checked_at"], unique=False)


def downgrade():
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_verifications_actor_checked_at")
        batch_op.drop_index("ix_verifications_agent_id_checked_at")
