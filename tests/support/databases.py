"""The databases a test can run on: SQLite (always) and this machine's PostgreSQL (if up)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
POSTGRES_DATABASE = "genai_platform_test"
POSTGRES_URL = f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}"


def _ensure_postgres_database() -> str | None:
    """Create the test database once; None when no PostgreSQL answers (a user's machine)."""
    try:
        admin = create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            exists = connection.scalar(
                text("select 1 from pg_database where datname = :name"),
                {"name": POSTGRES_DATABASE},
            )
            if not exists:
                connection.execute(text(f'create database "{POSTGRES_DATABASE}"'))
        admin.dispose()
    except OperationalError as exc:
        return f"PostgreSQL at 127.0.0.1:5432 is not available: {exc.orig}"
    return None


_postgres_problem: list[str | None] = []


def fresh_postgres() -> str:
    """An empty schema in the test database (skips the test if PostgreSQL is not there)."""
    if not _postgres_problem:
        _postgres_problem.append(_ensure_postgres_database())
    if _postgres_problem[0]:
        pytest.skip(_postgres_problem[0])
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("drop schema public cascade"))
        connection.execute(text("create schema public"))
    engine.dispose()
    return POSTGRES_URL


def database_url(kind: str, folder: Path) -> str:
    return fresh_postgres() if kind == "postgresql" else f"sqlite:///{folder / 'genai.db'}"
