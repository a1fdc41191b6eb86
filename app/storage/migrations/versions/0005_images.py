"""Images are metered: the ledger counts a request's images, and tenants and keys may limit
images per minute (`ipm`).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("images", sa.Integer(), nullable=False, server_default="0"))
    for name in ("tenants", "api_keys"):
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("ipm", sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in ("tenants", "api_keys"):
        with op.batch_alter_table(name) as table:
            table.drop_column("ipm")
    with op.batch_alter_table("usage") as table:
        table.drop_column("images")
