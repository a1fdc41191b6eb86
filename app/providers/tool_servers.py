"""The organisation's shared tools: the upstream MCP servers an admin registered, called over
streamable HTTP with the headers they were registered with (their credentials), each call
within its server's timeout and behind a circuit breaker, as model deployments are.

A server's tools are named `server.tool`. One that is down, slow past its timeout or answers
garbage is one of the platform's errors, never a hang; its failures open its breaker, and an
open breaker refuses at once. The `mcp` SDK is imported on the first use.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.errors import (
    NotFound,
    PlatformError,
    ProviderError,
    ProviderRefused,
    ProviderTimeout,
    ServiceUnavailable,
)
from app.providers.breaker import CircuitBreakers
from app.storage.tool_servers import Registered

if TYPE_CHECKING:
    from mcp import ClientSession, types

logger = logging.getLogger(__name__)

Registry = Callable[[], Awaitable[list[Registered]]]
#: How long a server's list of tools is reused before it is asked again.
LIST_SECONDS = 30.0


class ToolServers:
    def __init__(
        self, registry: Registry, breakers: CircuitBreakers,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._registry = registry
        self._breakers = breakers
        self._clock = clock
        self._listed: dict[tuple[str, str], tuple[float, list[types.Tool]]] = {}

    async def servers(self) -> list[str]:
        """The registered servers' names."""
        return [server.name for server in await self._registry()]

    async def tools(self) -> list[types.Tool]:
        """Every registered server's tools, named `server.tool`. A server that does not
        answer is left out of the list (and its failure counted): listing never fails."""
        servers = await self._registry()
        listed = await asyncio.gather(*(self._tools_of(server) for server in servers))
        return [tool for tools in listed for tool in tools]

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call the shared tool `name` (`server.tool`): its server's result, or the platform's
        error for what went wrong."""
        server_name, _, tool = name.partition(".")
        servers = {server.name: server for server in await self._registry()}
        server = servers.get(server_name)
        if server is None or not tool:
            raise NotFound(
                f"No tool '{name}': tools/list names the tools this key may call.",
                param="name", code="unknown_tool",
            )  # fmt: skip
        return await self._guarded(server, lambda session: session.call_tool(tool, arguments))

    async def _tools_of(self, server: Registered) -> list[types.Tool]:
        key = (server.name, server.url)
        kept = self._listed.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        try:
            listed = await self._guarded(server, lambda session: session.list_tools())
        except PlatformError as exc:
            logger.warning("tool server %s left out of tools/list: %s", server.name, exc.message)
            return []
        tools = [
            tool.model_copy(update={"name": f"{server.name}.{tool.name}"}) for tool in listed.tools
        ]
        self._listed[key] = (self._clock() + LIST_SECONDS, tools)
        return tools

    async def _guarded(
        self, server: Registered, ask: Callable[[ClientSession], Awaitable[Any]]
    ) -> Any:
        """`ask` in a session of `server`'s, within its timeout and its breaker."""
        circuit = f"tool-server:{server.name}"
        if not await self._breakers.allow(circuit):
            wait = max(1, round(await self._breakers.retry_after(circuit)))
            raise ServiceUnavailable(
                f"The tool server '{server.name}' has been failing; it is tried again in "
                f"{wait} s.", code="tool_server_unavailable", headers={"Retry-After": str(wait)},
            )  # fmt: skip
        try:
            async with asyncio.timeout(server.timeout_seconds):
                answer = await _in_session(server, ask)
        except TimeoutError:
            await self._breakers.failed(circuit)
            raise ProviderTimeout(
                f"The tool server '{server.name}' did not answer within "
                f"{server.timeout_seconds:g} s.", code="tool_server_timeout",
            ) from None  # fmt: skip
        except Exception as exc:  # inside the SDK's task groups: an exception group
            failure = _first(exc)
            if isinstance(failure, _Refused):
                await self._breakers.succeeded(circuit)  # it answered: it works
                raise ProviderRefused(
                    f"The tool server '{server.name}' refused: {failure}",
                    code="tool_server_refused",
                ) from None
            await self._breakers.failed(circuit)  # down, or what it said is not MCP
            raise ProviderError(
                f"The tool server '{server.name}' failed: {_reason(failure)}.",
                code="tool_server_failed",
            ) from None
        await self._breakers.succeeded(circuit)
        return answer


class _Refused(Exception):
    """The server answered with a JSON-RPC error (a tool it does not have, bad arguments)."""


async def _in_session(server: Registered, ask: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client
    from mcp.shared.exceptions import McpError

    async with (
        streamablehttp_client(server.url, headers=server.headers,
                              timeout=server.timeout_seconds) as (read, write, _),
        ClientSession(read, write, message_handler=_raised) as session,
    ):  # fmt: skip
        await session.initialize()
        try:
            return await ask(session)
        except McpError as exc:
            raise _Refused(exc.error.message) from None


async def _raised(message: Any) -> None:
    """The session's handler of what its transport read: a failure to read (an answer that
    is not MCP: HTML, a wrong content type) is raised, ending the session at once, where the
    SDK would go on waiting for an answer until the timeout."""
    if isinstance(message, Exception):
        raise message


def _first(exc: BaseException) -> BaseException:
    """The first failure an exception (or a task group's exception group) holds."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
