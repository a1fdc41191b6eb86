"""The Responses API's hosted `mcp` tool, as /v1/responses accepts it: a registered tool server
named by its label (api/hosted_tools.py calls its tools), and the `mcp_list_tools` and
`mcp_call` items an earlier response gave, when a client sends them back as input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from app.api.hosted_tools import Asked
from app.usage.tool_calls import offered_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolFilter(_Strict):
    tool_names: list[StrictStr] | None = None
    read_only: StrictBool | None = None


class McpTool(_Strict):
    """A hosted tool server: one an admin registered, named by its label. The platform calls
    its tools with the credentials it was registered with, without asking for approval."""

    type: Literal["mcp"]
    server_label: StrictStr = Field(min_length=1, description="A registered tool server's name.")
    allowed_tools: list[StrictStr] | ToolFilter | None = None
    require_approval: Literal["never"] | None = Field(
        None, description="Only `never`: the tools are the ones an admin granted your tenant."
    )
    server_description: StrictStr | None = None
    # Refused: the platform reaches only the servers an admin registered, with their own
    # credentials (a client's URL or token would bypass both).
    server_url: None = Field(None, description="Not accepted: name a registered server.")
    headers: None = Field(None, description="Not accepted: the registered credentials are used.")
    authorization: None = Field(None, description="Not accepted, as `headers`.")
    connector_id: None = Field(None, description="Not accepted: no connectors are served.")

    def narrowed_to(self) -> frozenset[str] | None:
        given = self.allowed_tools
        names = given.tool_names if isinstance(given, ToolFilter) else given
        return None if names is None else frozenset(names)


class McpListToolsItem(_Strict):
    """A hosted tool server's tools, as an earlier response listed them (nothing to the model:
    each request lists them afresh)."""

    type: Literal["mcp_list_tools"]
    server_label: StrictStr
    tools: list[dict[str, Any]]
    id: StrictStr | None = None
    error: StrictStr | None = None


class McpCallItem(_Strict):
    """A hosted tool's call the platform made in an earlier response, with its answer."""

    type: Literal["mcp_call"]
    server_label: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    arguments: StrictStr
    output: StrictStr | None = None
    error: dict[str, Any] | None = None
    id: StrictStr | None = None
    status: StrictStr | None = None
    approval_request_id: StrictStr | None = None


def hosted_turn(item: McpCallItem) -> list[dict[str, Any]]:
    """A hosted call made earlier, as the model made it and was answered."""
    call_id = item.id or f"call_{item.name}"
    name = offered_name(f"{item.server_label}.{item.name}")
    failure = (item.error or {}).get("message") or (item.error or {}).get("content")
    answer = item.output if item.output is not None else f"Error: {failure or 'no output'}"
    return [{"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function",
                 "function": {"name": name, "arguments": item.arguments}}]},
            {"role": "tool", "tool_call_id": call_id, "content": answer}]  # fmt: skip


def hosted_asked(tools: Sequence[object]) -> list[Asked]:
    """The hosted tool servers the request asks for."""
    return [Asked(tool.server_label, tool.narrowed_to(), f"tools[{index}].server_label")
            for index, tool in enumerate(tools) if isinstance(tool, McpTool)]  # fmt: skip
