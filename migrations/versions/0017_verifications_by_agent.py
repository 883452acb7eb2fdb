"""Checks listed by agent id or by API key for admins (`GET /v1/verifications?agent_id=` / `?key=`, newest first,
a page at a time): an index on (agent_id, checked_at) and one on (actor, checked_at) (issue 19 item 9).

Revision ID: 0017_verifications_by_agent
Revises: 0016_audit_archive
Create Date: 2026-12-07 19:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "0017_verifications_by_agent"
down_revision = "0016_audit_archive"
branch_labels = None
depends_on = None


INDEXES = (
    ("ix_verifications_agent_id_checked_at", ["agent_id", "checked_at"]),
    ("ix_verifications_actor_checked_at", ["actor", "checked_at"]),
)


def upgrade():
    # On PostgreSQL built CONCURRENTLY (outside the migration's transaction): checks keep writing meanwhile.
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for name, columns in INDEXES:
                op.create_index(name, "verifications", columns, unique=False, postgresql_concurrently=True,
                                if_not_exists=True)
    else:
        for name, columns in INDEXES:
            op.create_index(name, "verifications", columns, unique=False)


def downgrade():
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="verifications")
