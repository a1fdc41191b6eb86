"""The organisation's shared tools on /mcp (the gateway): listed to a tenant as its
`allowed_tools` grant them (none unless granted), named `server.tool`. Each call is
authorised, held to the tenant's `tool_rpm`, timed, and recorded in a ledger row of its own
(route `tools`, its `tool`, `via: mcp`); its arguments and result reach the log only with
`log_prompts`. The upstream's own tool errors pass through as they are."""

from __future__ import annotations

from typing import Any

import orjson
from mcp import types
from starlette.requests import Request

from app.api.mcp.tools import answered, tool_call_metering
from app.errors import Forbidden
from app.providers import ToolServers
from app.tenants.models import Principal
from app.usage.lifecycle import Metering


def is_shared(name: str) -> bool:
    """A shared tool's name (`server.tool`), not a use case's."""
    return "." in name


class SharedToolCalls:
    def __init__(self, tools: ToolServers, metering: Metering) -> None:
        self._tools = tools
        self._metering = metering

    async def listed(self, principal: Principal) -> list[types.Tool]:
        if not principal.tenant.allowed_tools:
            return []  # none granted: no upstream is asked
        return [tool for tool in await self._tools.tools() if principal.may_use_tool(tool.name)]

    async def call(
        self, request: Request, principal: Principal, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        metered = tool_call_metering(self._metering, request)

        async def run() -> types.CallToolResult:
            if not principal.may_use_tool(name):
                raise Forbidden(
                    f"Tenant '{principal.tenant.id}' may not call '{name}': an admin grants "
                    "shared tools in the tenant's allowed_tools.",
                    param="name", code="tool_not_allowed",
                )  # fmt: skip
            meter = await metered.admit_tool(principal, name)
            result = await self._tools.call(name, arguments)
            meter.tool_exchange = (
                orjson.dumps(arguments).decode(),
                result.model_dump_json(exclude={"meta"}),
            )
            return result

        return await answered(metered, run())
