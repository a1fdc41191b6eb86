"""The answer cache: what it did for each request, what that saved and who paid; a tenant's
own cache mode.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("cache", sa.String(16), nullable=True))
        table.add_column(sa.Column("saved_usd", sa.Float, nullable=False, server_default="0"))
        table.add_column(sa.Column("paid_by", sa.String(64), nullable=True))
    with op.batch_alter_table("tenants") as table:
        table.add_column(sa.Column("cache_mode", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as table:
        table.drop_column("cache_mode")
    with op.batch_alter_table("usage") as table:
        table.drop_column("paid_by")
        table.drop_column("saved_usd")
        table.drop_column("cache")
