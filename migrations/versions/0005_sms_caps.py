"""SMS pumping caps: each challenge keeps a keyed hash of its destination and the sending key's name.

Sends before this revision have neither, so they count toward the global cap only (for one hour at most).

Revision ID: 0005_sms
Revises: 0004_history
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0005_sms"
down_revision = "0004_history"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("destination_mac", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(sa.Column("actor", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_challenges_destination_mac_created_at", ["destination_mac", "created_at"],
                              unique=False)
        batch_op.create_index("ix_challenges_actor_created_at", ["actor", "created_at"], unique=False)
        batch_op.create_index("ix_challenges_created_at", ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("challenges", schema=None) as batch_op:
        batch_op.drop_index("ix_challenges_created_at")
        batch_op.drop_index("ix_challenges_actor_created_at")
        batch_op.drop_index("ix_challenges_destination_mac_created_at")
        batch_op.drop_column("actor")
        batch_op.drop_column("destination_mac")
