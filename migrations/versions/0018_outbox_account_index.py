"""An index on outbox.account_id: closing an account deletes its messages by account id, which scanned the whole
outbox without one (issue 20).

Revision ID: 0018_outbox_account_index
Revises: 0017_verifications_by_agent
Create Date: 2026-12-07 22:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0018_outbox_account_index"
down_revision = "0017_verifications_by_agent"
branch_labels = None
depends_on = None


NAME = "ix_outbox_account_id"


def upgrade():
    # On PostgreSQL built CONCURRENTLY (outside the migration's transaction): messages keep queueing meanwhile.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(NAME, "outbox", ["account_id"], unique=False, postgresql_concurrently=True,
                            if_not_exists=True)
    else:
        op.create_index(NAME, "outbox", ["account_id"], unique=False)


def downgrade():
    op.drop_index(NAME, table_name="outbox")
