"""A /v1/responses request translated onto chat completions (a `Translation`): its conversation
(earlier items first), its answer in the Responses API's shapes, whole or as typed events, and
the response kept as it ends (each text as its client's guardrail policy keeps it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from app.api.hosted_tools import HostedCall, HostedTools
from app.api.openai.responses_mcp import McpCallItem, McpListToolsItem
from app.api.openai.responses_output import (
    ResponseEvents,
    ResponseHead,
    done_items,
    item_id,
    listing_item,
    output_of,
    usage_of,
)
from app.api.openai.responses_request import (
    FunctionCallItem,
    FunctionTool,
    Item,
    MessageItem,
    ResponseRequest,
    chat_messages,
    chat_options,
)
from app.api.translation import OntoChat
from app.errors import PlatformError
from app.guardrails import client_policy, keeper
from app.storage.responses import ResponseStore
from app.tenants.models import Principal

ROUTE = "v1/responses"
_ITEM: TypeAdapter[Item] = TypeAdapter(Item)


class ResponseCall(OntoChat):
    """A /v1/responses request translated onto chat completions (a `Translation`)."""

    route = ROUTE
    max_tokens_field = "max_output_tokens"

    def __init__(
        self, body: ResponseRequest, history: list[dict[str, Any]],
        store: ResponseStore | None, principal: Principal, hosted: HostedTools | None,
    ) -> None:  # fmt: skip
        try:
            earlier = [_ITEM.validate_python(item) for item in history]
        except ValidationError:  # a stored conversation is the platform's own writing
            raise PlatformError("A stored conversation could not be read.") from None
        messages = chat_messages(body.instructions, [*earlier, *body.input],
                                 first_new=len(earlier))  # fmt: skip
        background = bool(body.background)  # answered as a stream, kept in the event log
        offered = [] if hosted is None else hosted.offered()
        super().__init__(body.model, body.stream or background, body.max_output_tokens,
                         messages, chat_options(body, offered))  # fmt: skip
        self.hosted = hosted
        self.answers_stream = body.stream
        self.items = [*history, *(_listed(item) for item in body.input)]
        self._background = background
        self._store = store
        self._tenant_id = principal.tenant.id
        #: How its texts are kept (masked, if its client's guardrail policy says so).
        self._keep_text = keeper(client_policy(principal.tenant.guardrails,
                                               principal.key.guardrails))  # fmt: skip
        self._head = ResponseHead(item_id("resp"), body.model, _echoed(body))
        self._listed = [] if hosted is None else [listing_item(one) for one in hosted.listings]
        self._events = ResponseEvents(self._head, self._listed)

    async def whole(
        self, upstream: dict[str, Any], input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        output, cut = output_of(upstream)
        if self.hosted is not None:
            output = [*self._listed, *done_items(self.hosted.done), *output]
        usage = usage_of(input_tokens, output_tokens)
        body = self._head.body("incomplete" if cut else "completed", output, usage)
        await self.keep(body)
        return body

    def new_id(self) -> str:
        return self._head.id

    def relay(self, id_: str) -> ResponseRelay:
        return ResponseRelay(self._events, self)

    def queued(self) -> dict[str, Any]:
        return self._head.body("queued", [])

    def cancelled(self) -> list[str]:
        return self._events.failed(None, "cancelled")[1]

    async def keep(self, body: dict[str, Any]) -> None:
        """Keep the response as it ended: a background one was kept queued, and ends once
        (unless it was cancelled first)."""
        if self._store is None:
            return
        kept = self.as_stored(body)
        if self._background:
            await self._store.end(self._tenant_id, body["id"], lambda _: kept)
        else:
            await self._store.save(self._tenant_id, kept, self.as_stored(self.items))

    def as_stored(self, value: Any) -> Any:
        """A response, or its items, as the server keeps them: each text as its client's
        guardrail policy keeps it (the value itself when kept as sent)."""
        return value if self._keep_text is None else _with_texts(value, self._keep_text)


class ResponseRelay:
    """The typed events of a streamed response; the response is kept before its last one."""

    def __init__(self, events: ResponseEvents, call: ResponseCall) -> None:
        self._events = events
        self._call = call

    def frames(self, chunk: dict[str, Any]) -> list[str]:
        return self._events.frames(chunk)

    def calling(self, call: HostedCall) -> list[str]:
        return self._events.calling(call)

    def called(self, call: HostedCall) -> list[str]:
        return self._events.called(call)

    async def closing(self, input_tokens: int, output_tokens: int) -> list[str]:
        body, frames = self._events.completed(usage_of(input_tokens, output_tokens))
        await self._call.keep(body)
        return frames

    async def failing(self, error: PlatformError) -> list[str]:
        body, frames = self._events.failed(error)
        await self._call.keep(body)
        return frames


def _echoed(body: ResponseRequest) -> dict[str, Any]:
    """What a response repeats of its request."""
    return {
        "background": bool(body.background),
        "instructions": body.instructions,
        "max_output_tokens": body.max_output_tokens,
        "metadata": body.metadata,
        "parallel_tool_calls": body.parallel_tool_calls,
        "previous_response_id": body.previous_response_id,
        "store": body.store,
        "temperature": body.temperature,
        "text": {"format": body.text.format.model_dump(by_alias=True, exclude_none=True)},
        "tool_choice": body.tool_choice if isinstance(body.tool_choice, str)
        else body.tool_choice.model_dump(),
        "tools": [{"strict": True, "parameters": None, "description": None,
                   **tool.model_dump(exclude_none=True)} if isinstance(tool, FunctionTool)
                  else tool.model_dump(exclude_none=True) for tool in body.tools],
        "top_p": body.top_p,
        "truncation": body.truncation,
        "user": body.user,
    }  # fmt: skip


#: Where the items of a response hold text (a function call's output is its text).
_TEXTS = frozenset({"text", "content", "arguments", "output", "instructions"})


def _with_texts(value: Any, keep: Callable[[str], str]) -> Any:
    """A copy of `value` with each text `keep` made of it."""
    if isinstance(value, dict):
        return {key: keep(item) if key in _TEXTS and isinstance(item, str)
                else _with_texts(item, keep) for key, item in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_with_texts(item, keep) for item in value]
    return value


def _listed(item: Item) -> dict[str, Any]:
    """An input item as the conversation keeps and lists it: with an id and a status, and a
    message's content as typed parts."""
    if isinstance(item, MessageItem):
        content = [part.model_dump(exclude_none=True) for part in item.content]
        if item.role == "assistant":
            content = [{"annotations": [], **part} for part in content]
        return {"id": item.id or item_id("msg"), "type": "message", "role": item.role,
                "status": "completed", "content": content}  # fmt: skip
    listed = item.model_dump(exclude_none=True)
    if isinstance(item, McpListToolsItem | McpCallItem):  # as an earlier response gave them
        return {**listed, "id": item.id or item_id("mcp")}
    prefix = "fc" if isinstance(item, FunctionCallItem) else "fco"
    return {**listed, "id": item.id or item_id(prefix), "status": "completed"}
