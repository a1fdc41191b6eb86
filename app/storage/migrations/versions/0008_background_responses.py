"""A kept response has a status of its own, and a background one shows it is still being
worked on (`alive_at`), so that any replica can cancel it, and one left by a replica that died
is seen as failed.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as table:
        table.add_column(sa.Column("status", sa.String(16), nullable=False,
                                   server_default="completed"))  # fmt: skip
        table.add_column(sa.Column("alive_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("responses") as table:
        table.drop_column("alive_at")
        table.drop_column("status")
