"""MCP clients against a platform served on loopback, with a tenant's key: the official Python
SDK's, and raw JSON-RPC over HTTP as a client without the SDK sends it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

ACCEPT = "application/json, text/event-stream"
PROTOCOL_VERSION = "2025-06-18"


@asynccontextmanager
async def mcp_session(base_url: str, key: str) -> AsyncIterator[ClientSession]:
    """An initialized SDK session on `base_url`/mcp."""
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        streamablehttp_client(f"{base_url}/mcp", headers=headers) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


class RawSession:
    """JSON-RPC messages posted to /mcp by hand, in one session once `initialize`d."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}", "Accept": ACCEPT,
                        "Content-Type": "application/json"}  # fmt: skip

    async def initialize(self) -> str:
        """Open a session; its id."""
        params = {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                  "clientInfo": {"name": "raw", "version": "1"}}  # fmt: skip
        opened = await self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                  "params": params})  # fmt: skip
        assert opened.status_code == 200, opened.text
        self.headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self.headers["Mcp-Session-Id"]

    async def post(self, body: bytes | dict[str, Any], **headers: str) -> httpx.Response:
        sent = {**self.headers, **headers}
        if isinstance(body, dict):
            return await self.client.post("/mcp", json=body, headers=sent)
        return await self.client.post("/mcp", content=body, headers=sent)


def sse_messages(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of an SSE answer (or the one JSON body)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return [response.json()]
    return [
        json.loads(line.removeprefix("data:").strip())
        for line in response.text.splitlines()
        if line.startswith("data:") and line.removeprefix("data:").strip()
    ]
