"""The database engine: SQLite (WAL, no setup) unless a URL names another server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase

from app.storage.private_files import private_file

MIGRATIONS = Path(__file__).parent / "migrations"


class Base(DeclarativeBase):
    """Every table of the platform."""


def _use_wal(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: JSON columns (a kept response, a chat message) written and read by orjson: a fraction of
#: the json module's time for a response's body and conversation.
_JSON: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def create_database_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **_JSON)
    if parsed.database and parsed.database != ":memory:":
        private_file(Path(parsed.database))  # its -wal and -shm files take its mode
    engine = create_engine(url, connect_args={"check_same_thread": False}, **_JSON)
    event.listen(engine, "connect", _use_wal)
    return engine


def newest_revision() -> str:
    """The newest migration's revision: each file in versions/ is named after its revision."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))


def current_revision(engine: Engine) -> str | None:
    """The schema's revision, as Alembic recorded it; None on a new database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.scalar(text("select version_num from alembic_version"))


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic), creating it on a new database.

    Most starts find the schema current: Alembic (a tenth of a second to import) is loaded only
    when there is something to do, which keeps cold starts short."""
    if current_revision(engine) == newest_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
