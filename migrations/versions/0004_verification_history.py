"""Index a customer's checks by time: the lockout count is rebuilt from them when Redis forgot it.

Revision ID: 0004_history
Revises: 0003_console
Create Date: 2026-12-02 10:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0004_history"
down_revision = "0003_console"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index("ix_verifications_account_id_checked_at", ["account_id", "checked_at"], unique=False)
        batch_op.drop_index("ix_verifications_account_id")


def downgrade():
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index("ix_verifications_account_id", ["account_id"], unique=False)
        batch_op.drop_index("ix_verifications_account_id_checked_at")
