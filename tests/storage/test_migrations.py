"""Alembic's migrations build exactly the schema the code's tables describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import app.storage.tables  # noqa: F401  (registers the tables)
from app.storage.database import Base, create_database_engine, migrate


def test_migrated_schema_matches_the_tables(database: str):
    engine = create_database_engine(database)
    migrate(engine)
    migrate(engine)  # a second start finds nothing to do
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
