"""The organisation's shared tools a /v1 request asks the platform to call for it (the
Responses API's hosted `mcp` tool): offered to the model beside the client's own functions,
and called by the platform between the model's rounds.

A request names the registered tool servers it wants by label, each perhaps narrowed to some of
its tools; it is offered those its tenant's `allowed_tools` grant. When the model's answer
calls only such tools, each is called (metered as every shared tool call is: a ledger row of its
own, `via: v1`), its result goes back into the conversation, and the model is asked again: up
to `MAX_ROUNDS` rounds, or the request's `max_tool_calls`, then it is offered them no more. An
answer that also calls one of the client's own functions ends the request there, as it would
without hosted tools.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from app.errors import BadRequest, Forbidden
from app.tenants.models import Principal
from app.usage.tool_calls import ToolAnswer, ToolCalls, offered_name

if TYPE_CHECKING:
    from mcp import types

#: Rounds of hosted calls a request may make before the model must answer without them.
MAX_ROUNDS = 8
VIA = "v1"


@dataclass(frozen=True)
class Asked:
    """A tool server a request asks for: its label, and the tools it narrows it to."""

    label: str
    tools: frozenset[str] | None
    param: str  # where the request named it


@dataclass(frozen=True)
class Listing:
    """A server's tools, as the request is offered them (named as on their server)."""

    label: str
    tools: list[types.Tool]


@dataclass
class HostedCall:
    """A hosted tool the model called: `answer` once the platform has called it."""

    call_id: str
    label: str
    tool: str  # as named on its server
    arguments: str
    answer: ToolAnswer | None = None
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or f"mcp_{uuid.uuid4().hex}"


class HostedTools:
    """One request's hosted tools: what the model is offered, and what it called (`done`,
    in order, with what each round said before its calls)."""

    def __init__(
        self, calls: ToolCalls, principal: Principal, request_id: str,
        listings: list[Listing], max_calls: int | None,
    ) -> None:  # fmt: skip
        self.listings = listings
        self._calls = calls
        self._principal = principal
        self._request_id = request_id
        self._max_calls = max_calls
        self._named = {offered_name(f"{listing.label}.{tool.name}"): (listing.label, tool.name)
                       for listing in listings for tool in listing.tools}  # fmt: skip
        self._rounds = 0
        self.done: list[str | HostedCall] = []

    @classmethod
    async def listed(
        cls, calls: ToolCalls, principal: Principal, request_id: str, asked: list[Asked],
        max_calls: int | None,
    ) -> HostedTools:  # fmt: skip
        """The servers `asked` for, each with the tools of its that the tenant may call: a
        400 for a server no admin registered, a 403 for one the tenant may call nothing of."""
        allowed = await calls.allowed(principal)
        registered = set(await calls.servers())
        listings = []
        for one in asked:
            if one.label not in registered:
                raise BadRequest(
                    f"No tool server '{one.label}' is registered; the platform calls only the "
                    "servers an admin registered (GET /mcp's tools/list names the tools you "
                    "may call, as server.tool).", param=one.param, code="unknown_tool_server",
                )  # fmt: skip
            prefix = f"{one.label}."
            tools = [tool.model_copy(update={"name": tool.name.removeprefix(prefix)})
                     for tool in allowed if tool.name.startswith(prefix)]  # fmt: skip
            if one.tools is not None:
                tools = [tool for tool in tools if tool.name in one.tools]
            if not tools:
                raise Forbidden(
                    f"Tenant '{principal.tenant.id}' may call none of the tools asked for on "
                    f"'{one.label}': an admin grants shared tools in the tenant's "
                    "allowed_tools.", param=one.param, code="tool_not_allowed",
                )  # fmt: skip
            listings.append(Listing(one.label, tools))
        return cls(calls, principal, request_id, listings, max_calls)

    def offered(self) -> list[dict[str, Any]]:
        """The hosted tools as chat completions' function tools."""
        return [
            {"type": "function", "function": {
                "name": offered_name(f"{listing.label}.{tool.name}"),
                "description": tool.description or tool.name, "parameters": tool.inputSchema}}
            for listing in self.listings for tool in listing.tools
        ]  # fmt: skip

    def owns(self, name: str) -> bool:
        return name in self._named

    def pending(self, message: dict[str, Any]) -> list[HostedCall]:
        """The hosted calls an answer's message makes, not yet called."""
        return [self._call(call) for call in message.get("tool_calls") or ()
                if self.owns(_name(call))]  # fmt: skip

    def client_called(self, message: dict[str, Any]) -> bool:
        """Whether the message calls one of the client's own functions (which ends it)."""
        return any(not self.owns(_name(call)) for call in message.get("tool_calls") or ())

    def without_hosted(self, data: dict[str, Any]) -> dict[str, Any]:
        """A whole answer as its client sees it: the hosted calls it made are run already."""
        choices = data.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return data
        message = choices[0].get("message") or {}
        calls = message.get("tool_calls") or []
        if not any(self.owns(_name(call)) for call in calls):
            return data
        kept = {**message, "tool_calls": [c for c in calls if not self.owns(_name(c))] or None}
        return {**data, "choices": [{**choices[0], "message": kept}, *choices[1:]]}

    def _call(self, call: dict[str, Any]) -> HostedCall:
        label, tool = self._named[_name(call)]
        function = call.get("function") or {}
        return HostedCall(call.get("id") or f"call_{uuid.uuid4().hex}", label, tool,
                          function.get("arguments") or "")  # fmt: skip

    async def call(self, pending: HostedCall) -> None:
        """Call the tool, and note its answer on `pending` (a failure is its answer too)."""
        try:
            arguments = orjson.loads(pending.arguments or "{}")
        except orjson.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            pending.answer = ToolAnswer("Error: the arguments are not a JSON object.", True)
        else:
            pending.answer = await self._calls.call(
                self._principal, self._request_id, f"{pending.label}.{pending.tool}", arguments,
                VIA,
            )  # fmt: skip

    def ended(self, calls: list[HostedCall]) -> None:
        """Note the calls of the request's last round (its answer says what it said)."""
        self.done.extend(calls)

    def next_payload(
        self, payload: dict[str, Any], said: str | None, calls: list[HostedCall]
    ) -> dict[str, Any]:
        """The next round's request: the conversation with the round's calls and their
        answers; once the rounds or `max_tool_calls` are spent, without the hosted tools."""
        if said:
            self.done.append(said)
        self.done.extend(calls)
        self._rounds += 1
        turn = {"role": "assistant", "content": said or None, "tool_calls": [
            {"id": call.call_id, "type": "function", "function": {
                "name": offered_name(f"{call.label}.{call.tool}"), "arguments": call.arguments}}
            for call in calls]}  # fmt: skip
        answers = [
            {"role": "tool", "tool_call_id": call.call_id,
             "content": call.answer.text if call.answer else ""}
            for call in calls
        ]  # fmt: skip
        following = {**payload, "messages": [*payload["messages"], turn, *answers]}
        if following.get("tool_choice") == "required":
            following["tool_choice"] = "auto"  # it called: the model may now answer
        if self._spent():
            tools = [tool for tool in following.get("tools") or ()
                     if not self.owns(str(tool.get("function", {}).get("name")))]  # fmt: skip
            self._named.clear()  # a call of one now is the client's to make sense of
            following["tools"] = tools
            if not tools:
                for key in ("tools", "tool_choice", "parallel_tool_calls"):
                    following.pop(key, None)
        return following

    def _spent(self) -> bool:
        called = sum(isinstance(one, HostedCall) for one in self.done)
        return self._rounds >= MAX_ROUNDS or (
            self._max_calls is not None and called >= self._max_calls
        )


def answer_message(data: dict[str, Any]) -> dict[str, Any]:
    """A chat completion's first answer's message (none: an empty one)."""
    choices = data.get("choices") or [{}]
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    return message if isinstance(message, dict) else {}


def _name(call: dict[str, Any]) -> str:
    return str((call.get("function") or {}).get("name") or "")


class StreamedRound:
    """One streamed round, as the hosted tools see it: the chunks' calls of hosted tools kept
    back (a client never sees them as its own functions) and gathered, with what it said."""

    def __init__(self, hosted: HostedTools) -> None:
        self._hosted = hosted
        self._said: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}  # hosted calls, by their chunks' index
        self._theirs: set[int] = set()  # the indexes of calls of the client's own functions

    def passed(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """The chunk without its hosted calls."""
        choices = chunk.get("choices")
        if not choices or not isinstance(choices[0], dict) or choices[0].get("index", 0) != 0:
            return chunk
        delta = choices[0].get("delta") or {}
        if delta.get("content"):
            self._said.append(str(delta["content"]))
        calls = delta.get("tool_calls")
        if not calls:
            return chunk
        kept = [call for call in calls if not self._gathered(call)]
        if len(kept) == len(calls):
            return chunk
        delta = {**delta, "tool_calls": kept} if kept else {
            key: value for key, value in delta.items() if key != "tool_calls"}  # fmt: skip
        return {**chunk, "choices": [{**choices[0], "delta": delta}, *choices[1:]]}

    def _gathered(self, call: dict[str, Any]) -> bool:
        index = call.get("index", 0)
        function = call.get("function") or {}
        if index not in self._calls and index not in self._theirs:
            if not self._hosted.owns(str(function.get("name") or "")):
                self._theirs.add(index)
                return False
            named = {"name": function["name"], "arguments": ""}
            self._calls[index] = {"id": call.get("id"), "type": "function", "function": named}
        if index in self._theirs:
            return False
        self._calls[index]["function"]["arguments"] += function.get("arguments") or ""
        return True

    @property
    def said(self) -> str:
        return "".join(self._said)

    def message(self) -> dict[str, Any]:
        """The round's answer, as far as the hosted tools go: what it said, its hosted calls,
        and whether it called one of the client's own functions (a call of no name)."""
        theirs = [{"function": {"name": ""}} for _ in self._theirs]
        return {"role": "assistant", "content": self.said or None,
                "tool_calls": [*self._calls.values(), *theirs]}  # fmt: skip
