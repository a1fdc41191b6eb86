"""Guardrails: a tenant's and a key's policy, and what the guardrails did for each request.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("tenants", "api_keys", "usage"):
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("guardrails", sa.JSON, nullable=True))


def downgrade() -> None:
    for name in ("usage", "api_keys", "tenants"):
        with op.batch_alter_table(name) as table:
            table.drop_column("guardrails")
