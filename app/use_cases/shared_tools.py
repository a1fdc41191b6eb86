"""The organisation's shared tools (/mcp's gateway) as LangChain tools for a use case's run.

A run is offered the tools its tenant's `allowed_tools` grant (or those of them it names).
Each call is admitted within the tenant's `tool_rpm` and recorded in a ledger row of its own
(route `tools`, its `tool`, `via: chain`), whose `client_request_id` is the run's request id.
What goes wrong is told to the model as the tool's answer (so it can say so), and is in the row.

Models take function names of letters, digits, `_` and `-`: `crm.lookup_customer` is offered
as `crm__lookup_customer`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

from app.errors import client_error
from app.providers import ToolServers
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest, Metering
from app.usage.meter_callbacks import meter_in

if TYPE_CHECKING:
    from mcp import types

VIA = "chain"


def offered_name(tool: str) -> str:
    """A shared tool's name as a model is offered it."""
    return tool.replace(".", "__")


class SharedTools:
    def __init__(self, gateway: ToolServers, metering: Metering) -> None:
        self._gateway = gateway
        self._metering = metering

    async def for_run(
        self, config: RunnableConfig, names: Sequence[str] | None = None
    ) -> list[BaseTool]:
        """The tools the run's tenant may call (those of `names`, when given)."""
        meter = meter_in(config)
        principal = meter.principal
        if not principal.tenant.allowed_tools:
            return []  # none granted: no tool server is asked
        return [
            self._tool(tool, principal, meter.request_id)
            for tool in await self._gateway.tools()
            if principal.may_use_tool(tool.name) and (names is None or tool.name in names)
        ]

    def _tool(self, tool: types.Tool, principal: Principal, request_id: str) -> BaseTool:
        async def call(**arguments: Any) -> str:
            metered = MeteredRequest(self._metering, uuid.uuid4().hex, request_id, via=VIA)
            try:
                async with metered.closing():
                    meter = await metered.admit_tool(principal, tool.name)
                    result = await self._gateway.call(tool.name, arguments)
                    answer = _text(result)
                    meter.tool_exchange = (orjson.dumps(arguments).decode(), answer)
            except Exception as exc:  # told to the model; the row has its status
                return f"Error: {client_error(exc).message}"
            await metered.close(200)
            return answer

        return StructuredTool(
            name=offered_name(tool.name), description=tool.description or tool.name,
            args_schema=tool.inputSchema, coroutine=call,
        )  # fmt: skip


def _text(result: types.CallToolResult) -> str:
    """What a tool answered, as a model reads it: its structured content, else its texts."""
    if result.structuredContent is not None:
        return orjson.dumps(result.structuredContent).decode()
    texts = [block.text for block in result.content if getattr(block, "type", "") == "text"]
    return ("Error: " if result.isError else "") + "\n".join(texts)
