"""The shared tool servers an admin registered: upstream MCP servers whose tools /mcp
re-exposes under the server's name, with the headers the platform sends them (sealed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import anyio
import orjson
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import Conflict, NotFound
from app.storage.sealed import Sealer
from app.storage.tables import ToolServerRow

#: A server's name: the prefix of its tools (`crm` for `crm.lookup_customer`).
SERVER_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class ToolServerSpec(BaseModel):
    """A server to register (`POST /admin/tool-servers`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SERVER_NAME_PATTERN, description="Its tools' prefix, e.g. 'crm'.")
    url: HttpUrl = Field(description="Its MCP endpoint (streamable HTTP), e.g. https://crm/mcp.")
    headers: dict[HeaderName, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=20,
        description="Sent with every request to it (its credentials); never shown again.",
    )  # fmt: skip
    timeout_seconds: float = Field(10.0, gt=0, le=120, description="For each call to it.")


class ToolServer(BaseModel):
    """A registered server as it is shown: its headers' names, never their values."""

    name: str
    url: str
    header_names: list[str]
    timeout_seconds: float
    created_at: datetime


class Registered(ToolServer):
    """A registered server as the gateway calls it: with its headers."""

    headers: dict[str, str]

    def shown(self) -> ToolServer:
        return ToolServer(**self.model_dump(exclude={"headers"}))


class ToolServerStore:
    def __init__(self, engine: Engine, sealer: Sealer) -> None:
        self._engine = engine
        self._sealer = sealer

    def add(self, spec: ToolServerSpec) -> ToolServer:
        row = ToolServerRow(
            name=spec.name, url=str(spec.url), timeout_seconds=spec.timeout_seconds,
            sealed_headers=self._sealer.seal(orjson.dumps(spec.headers).decode()),
            created_at=datetime.now(UTC),
        )  # fmt: skip
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise Conflict(
                f"A tool server '{spec.name}' is registered already; remove it first.",
                param="name", code="tool_server_exists",
            ) from None  # fmt: skip
        return self._registered(row).shown()

    def registered(self) -> list[Registered]:
        with Session(self._engine) as session:
            rows = session.scalars(select(ToolServerRow).order_by(ToolServerRow.name))
            return [self._registered(row) for row in rows]

    def remove(self, name: str) -> None:
        with Session(self._engine) as session, session.begin():
            row = session.get(ToolServerRow, name)
            if row is None:
                raise NotFound(f"No tool server '{name}'.", code="tool_server_not_found")
            session.delete(row)

    async def aregistered(self) -> list[Registered]:
        return await anyio.to_thread.run_sync(self.registered)

    def _registered(self, row: ToolServerRow) -> Registered:
        headers = orjson.loads(self._sealer.open(row.sealed_headers))
        return Registered(
            name=row.name, url=row.url, header_names=sorted(headers), headers=headers,
            timeout_seconds=row.timeout_seconds, created_at=row.created_at,
        )  # fmt: skip
