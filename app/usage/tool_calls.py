"""The organisation's shared tools (/mcp's gateway) called by the platform itself on a tenant's
behalf: for a use case's run, and between the model's rounds of a /v1 response that offers
them (the Responses API's hosted `mcp` tool).

Each call is admitted within the tenant's `tool_rpm` and recorded in a ledger row of its own
(route `tools`, its `tool`, `via` its caller), whose `client_request_id` is the id of the
request it served. What goes wrong is the call's answer (a model is told, so it can say so),
and is in the row; it is never raised.

Models take function names of letters, digits, `_` and `-`: `crm.lookup_customer` is offered
as `crm__lookup_customer`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from app.errors import PlatformError, client_error
from app.providers import ToolServers
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest, Metering

if TYPE_CHECKING:
    from mcp import types


def offered_name(tool: str) -> str:
    """A shared tool's name as a model is offered it."""
    return tool.replace(".", "__")


@dataclass(frozen=True)
class ToolAnswer:
    """What a shared tool call came to: the text the model reads, and what went wrong, if
    anything: the tool's own error (`failed`), or the platform's (`error`, with its status)."""

    text: str
    failed: bool = False
    error: PlatformError | None = None


class ToolCalls:
    def __init__(self, gateway: ToolServers, metering: Metering) -> None:
        self._gateway = gateway
        self._metering = metering

    async def servers(self) -> list[str]:
        """The registered tool servers' names."""
        return await self._gateway.servers()

    async def allowed(self, principal: Principal) -> list[types.Tool]:
        """The shared tools `principal` may call (none unless granted: no server is asked)."""
        if not principal.tenant.allowed_tools:
            return []
        return [tool for tool in await self._gateway.tools() if principal.may_use_tool(tool.name)]

    async def call(
        self, principal: Principal, request_id: str, name: str, arguments: dict[str, Any],
        via: str,
    ) -> ToolAnswer:  # fmt: skip
        """Call the shared tool `name` for the request `request_id`, in a ledger row of its
        own."""
        metered = MeteredRequest(self._metering, uuid.uuid4().hex, request_id, via=via)
        try:
            async with metered.closing():
                meter = await metered.admit_tool(principal, name)
                result = await self._gateway.call(name, arguments)
                answer = _answer(result)
                meter.tool_exchange = (orjson.dumps(arguments).decode(), answer.text)
        except Exception as exc:  # the row has its status
            error = client_error(exc)
            return ToolAnswer(f"Error: {error.message}", failed=True, error=error)
        await metered.close(200)
        return answer


def _answer(result: types.CallToolResult) -> ToolAnswer:
    """What a tool answered, as a model reads it: its structured content, else its texts."""
    if result.structuredContent is not None:
        return ToolAnswer(orjson.dumps(result.structuredContent).decode(), bool(result.isError))
    texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
    failed = bool(result.isError)
    return ToolAnswer(("Error: " if failed else "") + "\n".join(texts), failed)
