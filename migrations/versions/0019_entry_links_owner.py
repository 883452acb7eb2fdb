"""An index on entry_links (owner, created_at): the hourly cap per key counts one credential's recent links
(issue 18's hardening), which otherwise went through the expires_at index and filtered every recent link.

Revision ID: 0019_entry_links_owner
Revises: 0018_outbox_account_index
Create Date: 2026-12-07 23:05:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0019_entry_links_owner"
down_revision = "0018_outbox_account_index"
branch_labels = None
depends_on = None


NAME = "ix_entry_links_owner_created_at"


def upgrade():
    # On PostgreSQL built CONCURRENTLY (outside the migration's transaction): links keep being made meanwhile.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.create_index(NAME, "entry_links", ["owner", "created_at"], unique=False,
                            postgresql_concurrently=True, if_not_exists=True)
    else:
        op.create_index(NAME, "entry_links", ["owner", "created_at"], unique=False)


def downgrade():
    op.drop_index(NAME, table_name="entry_links")
