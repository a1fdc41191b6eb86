"""Alembic environment: migrates the connection `app.storage.database.migrate` hands over."""

from alembic import context

import app.storage.tables  # noqa: F401  (registers every table on Base.metadata)
from app.storage.database import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
