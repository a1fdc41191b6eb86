"""The organisation's shared tools as LangChain tools for a use case's run: those its tenant's
`allowed_tools` grant (or those of them it names), each call metered as the platform's own
calls of them are (usage/tool_calls.py, `via: chain`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

from app.tenants.models import Principal
from app.usage.meter_callbacks import meter_in
from app.usage.tool_calls import ToolCalls, offered_name

if TYPE_CHECKING:
    from mcp import types

VIA = "chain"


class SharedTools:
    def __init__(self, calls: ToolCalls) -> None:
        self._calls = calls

    async def for_run(
        self, config: RunnableConfig, names: Sequence[str] | None = None
    ) -> list[BaseTool]:
        """The tools the run's tenant may call (those of `names`, when given)."""
        meter = meter_in(config)
        principal = meter.principal
        return [
            self._tool(tool, principal, meter.request_id)
            for tool in await self._calls.allowed(principal)
            if names is None or tool.name in names
        ]

    def _tool(self, tool: types.Tool, principal: Principal, request_id: str) -> BaseTool:
        async def call(**arguments: Any) -> str:
            return (await self._calls.call(principal, request_id, tool.name, arguments, VIA)).text

        return StructuredTool(
            name=offered_name(tool.name), description=tool.description or tool.name,
            args_schema=tool.inputSchema, coroutine=call,
        )  # fmt: skip
