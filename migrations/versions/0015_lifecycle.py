"""Data lifecycle (issue 20 items 1 and 3): `customers.closed_at` marks a closed account (its personal data and
secrets erased, the id kept); `schedule_turns` decides which process takes the scheduled retention sweep; indexes
on the time columns retention sweeps by.

On PostgreSQL the indexes are built CONCURRENTLY (outside the migration's transaction), so checks keep writing
while `verifications` is indexed: on a large table that takes a while, and a plain CREATE INDEX would block every
check's insert until it ends.

Revision ID: 0015_lifecycle
Revises: 0014_entry_links
Create Date: 2026-12-07 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0015_lifecycle"
down_revision = "0014_entry_links"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_verifications_checked_at", "verifications", "checked_at"),
    ("ix_approvals_expires_at", "approvals", "expires_at"),
    ("ix_contacts_expires_at", "contacts", "expires_at"),
    ("ix_agent_activity_at", "agent_activity", "at"),
)


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "schedule_turns",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_schedule_turns")),
    )
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, table, column in INDEXES:
                op.create_index(name, table, [column], unique=False, postgresql_concurrently=True,
                                if_not_exists=True)
    else:
        for name, table, column in INDEXES:
            op.create_index(name, table, [column], unique=False)


def downgrade():
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("schedule_turns")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("closed_at")
