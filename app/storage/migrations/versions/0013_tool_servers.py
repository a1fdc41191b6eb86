"""The shared tools /mcp re-exposes: their servers, a tenant's allow-list and tool_rpm, and
the tool a ledger row's call ran.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tool_servers",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("sealed_headers", sa.Text, nullable=False),
        sa.Column("timeout_seconds", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("tenants") as table:
        table.add_column(sa.Column("allowed_tools", sa.JSON, nullable=True))
        table.add_column(sa.Column("tool_rpm", sa.Integer, nullable=True))
    with op.batch_alter_table("usage") as table:
        table.add_column(sa.Column("tool", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage") as table:
        table.drop_column("tool")
    with op.batch_alter_table("tenants") as table:
        table.drop_column("tool_rpm")
        table.drop_column("allowed_tools")
    op.drop_table("tool_servers")
