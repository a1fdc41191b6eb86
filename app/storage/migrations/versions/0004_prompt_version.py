"""The ledger names the prompt and version a chain request ran (`<name>@<version>`).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("prompt", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.drop_column("prompt")
