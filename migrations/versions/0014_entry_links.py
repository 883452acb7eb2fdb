"""Entry links for chat (issue 18 part 2): single-use links whose page takes the customer's PIN; the token is kept
only as a keyed MAC. `created_at` and `expires_at` let retention sweep old links.

Revision ID: 0014_entry_links
Revises: 0013_verification_entry
Create Date: 2026-12-07 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0014_entry_links"
down_revision = "0013_verification_entry"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "entry_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("ticket_ref", sa.String(length=64), nullable=True),
        sa.Column("token_key_id", sa.String(length=32), nullable=False),
        sa.Column("token_mac", sa.LargeBinary(length=32), nullable=False),
        sa.Column("owner", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("verification_id", sa.String(length=40), nullable=True),
        sa.Column("submission", sa.String(length=64), nullable=True),
        sa.Column("checking_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_links")),
        sa.UniqueConstraint("token_mac", name=op.f("uq_entry_links_token_mac")),
    )
    op.create_index("ix_entry_links_account_id_created_at", "entry_links", ["account_id", "created_at"],
                    unique=False)
    op.create_index("ix_entry_links_agent_id_created_at", "entry_links", ["agent_id", "created_at"], unique=False)
    op.create_index("ix_entry_links_expires_at", "entry_links", ["expires_at"], unique=False)  # retention's sweep


def downgrade():
    op.drop_index("ix_entry_links_expires_at", table_name="entry_links")
    op.drop_index("ix_entry_links_agent_id_created_at", table_name="entry_links")
    op.drop_index("ix_entry_links_account_id_created_at", table_name="entry_links")
    op.drop_table("entry_links")
