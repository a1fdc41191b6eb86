"""The ledger says which deployments served a request, and whether it was continued or hedged.

A request's answer may come from two deployments (continued after the first cut it short, or
raced against a slow first one); its row holds both calls' tokens and names both.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("deployments", sa.String(512), nullable=True))
        for flag in ("continued", "hedged"):
            table.add_column(
                sa.Column(flag, sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.drop_column("hedged")
        table.drop_column("continued")
        table.drop_column("deployments")
