"""Agent misuse detection: anomalies (open ones block with VERIFY_AGENT_BLOCK) and the SQL activity window.

Revision ID: 0009_agent_watch
Revises: 0008_approvals
Create Date: 2026-12-02 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0009_agent_watch"
down_revision = "0008_approvals"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "agent_anomalies",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("clear_reason", sa.String(length=500), nullable=True),
        sa.Column("open_key", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_anomalies")),
        sa.UniqueConstraint("open_key", name=op.f("uq_agent_anomalies_open_key")),
    )
    op.create_index("ix_agent_anomalies_raised_at", "agent_anomalies", ["raised_at"], unique=False)
    op.create_table(
        "agent_activity",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("is_check", sa.Boolean(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_activity")),
    )
    op.create_index("ix_agent_activity_subject_at", "agent_activity", ["subject", "at"], unique=False)


def downgrade():
    op.drop_index("ix_agent_activity_subject_at", table_name="agent_activity")
    op.drop_table("agent_activity")
    op.drop_index("ix_agent_anomalies_raised_at", table_name="agent_anomalies")
    op.drop_table("agent_anomalies")
