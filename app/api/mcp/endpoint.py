"""The ASGI app at /mcp: MCP's streamable HTTP, served by the official SDK's session manager.

Each HTTP request is authenticated with the tenant's key (`Authorization: Bearer`), or refused
with the platform's 401 body; the session manager then binds a session to the key that opened
it, and answers a session id used with another key as a session that does not exist (404).
A session lives on the replica that opened it (route /mcp with session affinity on the
`Mcp-Session-Id` header); elsewhere its id is a 404, on which MCP clients open a new session.

The SDK (and LangChain, under the tools) is imported, and its session manager started, by
the first request: /v1's cold start does not pay for it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from app.errors import PlatformError
from app.http.error_responses import error_response
from app.http.request_state import request_state
from app.services import Services

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from app.api.use_cases.mounting import UseCaseMounting

#: The methods of MCP's streamable HTTP: messages, the server's own stream, ending a session.
METHODS = ["GET", "POST", "DELETE"]


class McpEndpoint:
    def __init__(self, services: Services, mounting: UseCaseMounting) -> None:
        self._services = services
        self._mounting = mounting
        self._sessions: StreamableHTTPSessionManager | None = None
        self._starting = asyncio.Lock()
        self._running: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            principal = await self._services.authenticator.principal(Request(scope, receive))
        except PlatformError as exc:
            await error_response(exc)(scope, receive, send)
            return
        request_state(scope).tenant_id = principal.tenant.id
        sessions = await self._started()
        from app.api.mcp.server import Caller

        scope["user"] = Caller(principal)
        await sessions.handle_request(scope, receive, send)

    async def stop(self) -> None:
        """End every session (at shutdown): their calls in flight are cancelled and recorded."""
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)

    async def _started(self) -> StreamableHTTPSessionManager:
        """The session manager, running for as long as the app does."""
        async with self._starting:
            if self._sessions is None:
                from app.api.mcp.server import session_manager

                sessions = session_manager(self._services, self._mounting)
                started = asyncio.Event()
                self._running = asyncio.create_task(_run(sessions, started))
                await started.wait()
                self._sessions = sessions
        return self._sessions


async def _run(sessions: StreamableHTTPSessionManager, started: asyncio.Event) -> None:
    async with sessions.run():
        started.set()
        await asyncio.Event().wait()  # until cancelled, at shutdown
