"""Upstream MCP servers for the gateway's tests: one written with the `mcp` SDK (FastMCP),
run as a child process (sse-starlette 1.x binds one event to a process's first event loop, so
two SSE servers cannot share a test process), that requires its credential; and one, in
process, that answers garbage.

The SDK's server has `lookup_customer` (a customer's record), `wait` (answers after the
seconds it is given) and `broken` (a tool that raises: an MCP tool error). `GET /record`
answers the Authorization header of every request that reached /mcp (`seen`) and the tools
called (`calls`); `DELETE /record` clears them.

    python -m tests.support.tool_server PORT
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from mcp.server.fastmcp import FastMCP
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from app.providers.local_server import free_loopback_port
from tests.support.processes import running

CREDENTIAL = "Bearer upstream-secret"
RECORD: dict[str, list[str]] = {"seen": [], "calls": []}


def _crm() -> FastMCP:
    crm = FastMCP("crm")

    @crm.tool()
    def lookup_customer(customer_id: str) -> dict[str, Any]:
        """A customer's record, by id."""
        RECORD["calls"].append("lookup_customer")
        return {"id": customer_id, "name": "Ada Lovelace", "tier": "gold"}

    @crm.tool()
    async def wait(seconds: float) -> str:
        """Answers after `seconds`."""
        RECORD["calls"].append("wait")
        await asyncio.sleep(seconds)
        return "waited"

    @crm.tool()
    def broken() -> str:
        """Always fails."""
        RECORD["calls"].append("broken")
        raise ValueError("the CRM is read-only today")

    return crm


async def _record(request: Request) -> Response:
    if request.method == "DELETE":
        for values in RECORD.values():
            values.clear()
    return JSONResponse(RECORD)


class _Credential:
    """Refuses /mcp requests without the credential, noting what each one carried."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            given = dict(scope["headers"]).get(b"authorization", b"").decode()
            RECORD["seen"].append(given)
            if given != CREDENTIAL:
                await PlainTextResponse("no", status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Upstream:
    """The child process's server, as a test sees it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.url = f"{base_url}/mcp"

    def record(self) -> dict[str, list[str]]:
        return httpx.get(f"{self.base_url}/record").json()

    def reset(self) -> None:
        httpx.delete(f"{self.base_url}/record")


@contextmanager
def crm_server(log_dir: Path) -> Iterator[Upstream]:
    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tests.support.tool_server", str(port)]
    with running(command, f"{base_url}/record", log_dir / "tool-server.log", startup_seconds=60):
        yield Upstream(base_url)


async def _garbage(_: Request) -> Response:
    return Response(b"<html>not MCP</html>", media_type="text/html")


def garbage_app() -> Any:
    """A server that answers every /mcp message with an HTML page."""
    from starlette.applications import Starlette

    return Starlette(routes=[Route("/mcp", _garbage, methods=["GET", "POST", "DELETE"])])


if __name__ == "__main__":
    app = _crm().streamable_http_app()
    app.router.routes.append(Route("/record", _record, methods=["GET", "DELETE"]))
    uvicorn.run(_Credential(app), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
