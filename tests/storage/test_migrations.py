"""Alembic's migrations build exactly the schema the code's tables describe."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import app.storage.tables  # noqa: F401  (registers the tables)
from app.storage.database import (
    MIGRATIONS,
    Base,
    create_database_engine,
    current_revision,
    migrate,
    newest_revision,
)


def test_migrated_schema_matches_the_tables(database: str):
    engine = create_database_engine(database)
    migrate(engine)
    migrate(engine)  # a second start finds nothing to do
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_the_newest_revision_read_from_file_names_is_alembics_head():
    """`migrate` skips Alembic when the schema is at this revision: it must be the real head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert newest_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_each_migration_file_is_named_after_its_revision():
    for script in ScriptDirectory(str(MIGRATIONS)).walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")


def test_a_schema_one_revision_behind_is_brought_to_the_newest(tmp_path: Path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    assert current_revision(engine) == "0001"
    migrate(engine)
    assert current_revision(engine) == newest_revision()
    engine.dispose()
