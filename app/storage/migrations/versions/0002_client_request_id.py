"""The ledger keeps a client's X-Request-Id beside the platform's own request id.

The client's id was the ledger's unique key: a client retrying with the same id (or another
tenant picking it) made the row's insert fail after the model had run.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("client_request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.drop_column("client_request_id")
