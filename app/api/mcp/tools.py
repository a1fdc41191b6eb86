"""The use cases as MCP tools.

A tenant is shown the use cases its route allow-list permits. Each tool takes its use case's
input fields, and `config` as LangServe's invoke does (`{"configurable": {...}}`: the model,
the prompt version, a chat's session). A call is read, admitted, metered and run as the route's
`invoke` is (`ChainRuns.call`), with a ledger row of its own marked `via: mcp`, whose
`request_id` the result's `_meta` names (`genai/request_id`). Whatever goes
wrong comes back as a tool error saying what to fix (the platform's error body, as structured
content), never as a broken session; a cancelled call is recorded as the client's leaving.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from langchain_core.callbacks import BaseCallbackHandler
from mcp import types
from starlette.requests import Request

from app.api.deps import allowed_route
from app.errors import InvalidRequest, NotFound, PlatformError, client_error
from app.http.request_state import request_state
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest, Metering

if TYPE_CHECKING:  # LangServe, imported with the use cases
    from app.api.use_cases.mounting import UseCaseMounting
    from app.api.use_cases.runs import ChainRuns

#: What the ledger's `via` column says of a tool call's row.
VIA = "mcp"
#: The key of a result's `_meta` naming its ledger row (`request_id` in /usage).
REQUEST_ID = "genai/request_id"

_CONFIG_HELP = (
    'Optional, as in the use case\'s HTTP invoke: {"configurable": {...}}, e.g. a model alias, '
    "a prompt_version, or a chat's session_id."
)


class UseCaseTools:
    def __init__(self, mounting: UseCaseMounting, metering: Metering) -> None:
        self._mounting = mounting
        self._metering = metering
        self._shapes: dict[str, _Shape] = {}

    def listed(self, principal: Principal) -> list[types.Tool]:
        """The tools `principal` may call, one per use case its tenant may use."""
        return [
            self._shape(runs).tool
            for name, runs in self._mounting.runs.items()
            if principal.may_use_route(name)
        ]

    async def call(
        self, request: Request, principal: Principal, name: str, arguments: dict[str, Any],
        callbacks: list[BaseCallbackHandler],
    ) -> types.CallToolResult:  # fmt: skip
        """Run the tool `name` for `principal`; `request` is the HTTP request that carried it."""
        metered = tool_call_metering(self._metering, request)

        async def run() -> types.CallToolResult:
            runs = self._runs(principal, name)
            raw_input, raw_config = self._shape(runs).split(arguments)
            output = await runs.call(request, principal, metered, raw_input, raw_config, callbacks)
            text = output if isinstance(output, str) else orjson.dumps(output).decode()
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)],
                structuredContent=output if isinstance(output, dict) else None,
            )

        return await answered(metered, run())

    def _runs(self, principal: Principal, name: str) -> ChainRuns:
        runs = self._mounting.runs.get(name)
        if runs is None:
            raise NotFound(
                f"No tool '{name}': tools/list names the tools this key may call.",
                param="name", code="unknown_tool",
            )  # fmt: skip
        allowed_route(principal, name)
        return runs

    def _shape(self, runs: ChainRuns) -> _Shape:
        if runs.name not in self._shapes:
            self._shapes[runs.name] = _Shape.of(runs)
        return self._shapes[runs.name]


@dataclass(frozen=True)
class _Shape:
    """A use case as a tool: its definition, and how its arguments become a run."""

    tool: types.Tool
    takes_fields: bool  # its input is an object whose fields are the tool's arguments

    @classmethod
    def of(cls, runs: ChainRuns) -> _Shape:
        schema = runs.runnable.input_schema.model_json_schema()
        takes_fields = schema.get("type") == "object"
        config = runs.runnable.config_schema(include=["configurable"]).model_json_schema()
        defs = {**schema.pop("$defs", {}), **config.pop("$defs", {})}
        config.pop("title", None)
        config_property = {**config, "description": _CONFIG_HELP}
        if takes_fields:
            properties = {**schema.get("properties", {}), "config": config_property}
            arguments = {**schema, "properties": properties}
        else:  # one argument, `input`
            properties = {"input": schema, "config": config_property}
            arguments = {"type": "object", "properties": properties, "required": ["input"]}
        tool = types.Tool(
            name=runs.name, title=runs.name.title(), description=_description(runs),
            inputSchema={**arguments, "$defs": defs} if defs else arguments,
        )  # fmt: skip
        return cls(tool, takes_fields)

    def split(self, arguments: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The arguments as the use case's input and the run's config."""
        config = arguments.get("config", {})
        if not isinstance(config, dict):
            raise InvalidRequest(
                '"config", when given, must be an object: {"configurable": {...}}.',
                param="config", code="invalid_field",
            )  # fmt: skip
        if not self.takes_fields:
            return arguments.get("input"), config
        return {key: value for key, value in arguments.items() if key != "config"}, config


def tool_call_metering(metering: Metering, request: Request) -> MeteredRequest:
    """A tool call's own metering, marked `via: mcp` (one HTTP request may carry several)."""
    client_request_id = request_state(request).client_request_id
    return MeteredRequest(metering, uuid.uuid4().hex, client_request_id, via=VIA)


async def answered(
    metered: MeteredRequest, work: Awaitable[types.CallToolResult]
) -> types.CallToolResult:
    """`work`'s result, its ledger row written first (if it was admitted) and named in the
    result's `_meta`; whatever it raised, a tool error. A cancelled call's row is a 499."""
    try:
        async with metered.closing():
            result = await work
    except Exception as exc:  # a cancellation goes on up: the SDK answers the client itself
        return tool_error(client_error(exc), metered.request_id)
    await metered.close(200)
    return result.model_copy(
        update={"meta": {**(result.meta or {}), REQUEST_ID: metered.request_id}}
    )


def tool_error(error: PlatformError, request_id: str) -> types.CallToolResult:
    """A refusal or failure as a tool error: its message for the model or person reading it,
    the platform's error body for a program."""
    text = f"{error.message} ({error.code})" if error.code else error.message
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structuredContent=error.body(),
        isError=True,
        _meta={REQUEST_ID: request_id},
    )


def _description(runs: ChainRuns) -> str:
    """Its prompt's description (the newest version's), as the prompt file states it."""
    prompts = runs.admission.prompts
    if prompts is None:
        return f"The platform's {runs.name} use case."
    return prompts.specs[prompts.newest].description
