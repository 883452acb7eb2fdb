"""Audit archive with checkpoints (issue 20.2): each archived chain's cut, and the segments written.

Revision ID: 0016_audit_archive
Revises: 0015_lifecycle
Create Date: 2026-12-07 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0016_audit_archive"
down_revision = "0015_lifecycle"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_cuts",
        sa.Column("chain", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_cuts")),
    )
    op.create_table(
        "audit_segments",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("cut_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cut_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_audit_segments")),
    )


def downgrade():
    op.execute(sa.text("DELETE FROM audit_anchors WHERE name = 'archive'"))
    op.drop_table("audit_segments")
    op.drop_table("audit_cuts")
