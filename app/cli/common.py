"""What the `genai` commands share: the database they read, tables printed, flags read."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app.errors import NotFound
from app.services import open_database, server_secret
from app.settings import Settings
from app.tenants.keys import KeyHasher
from app.tenants.service import TenantService

Command = Callable[[Settings, argparse.Namespace], int]


def tenant_service(settings: Settings, *, reading: bool = False) -> TenantService:
    engine = existing_database(settings) if reading else open_database(settings)
    return TenantService(engine, KeyHasher(server_secret(settings)))


def existing_database(settings: Settings) -> Engine:
    """The database a listing reads, named on stderr: a listing of a database that is not
    there (run in a folder without var/) is an error, not an empty table."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise NotFound(
            f"No database at {url.database}: run this where the server keeps its var/ folder, "
            "or set GENAI_DATA_DIR or GENAI_DATABASE_URL to the server's."
        )
    print(f"database: {url.render_as_string(hide_password=True)}", file=sys.stderr)
    return open_database(settings)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], header: bool = True) -> str:
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = [columns, *cells] if header else cells
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines
    )


def given(args: argparse.Namespace, fields: Sequence[str]) -> dict[str, Any]:
    """The flags of `fields` that were given."""
    values = {field: getattr(args, field, None) for field in fields}
    return {field: value for field, value in values.items() if value is not None}


def comma_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]
