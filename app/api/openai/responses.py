"""Serving /v1/responses: OpenAI's Responses API over any deployment that speaks chat
completions, with the responses kept per tenant in the database (`store`, the default), so
that `previous_response_id` continues a conversation on any replica and whichever deployment
answers it next.

A response is answered through the model-call seam (api/model_calls.py) like every dialect:
the same admission, limits, failover and ledger row (route `v1/responses`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from app.api.model_calls import ModelCalls, parse_body, validated
from app.api.openai.responses_background import BackgroundResponses
from app.api.openai.responses_output import (
    ResponseEvents,
    ResponseHead,
    item_id,
    output_of,
    usage_of,
)
from app.api.openai.responses_request import (
    FunctionCallItem,
    FunctionCallOutputItem,
    Item,
    MessageItem,
    ResponseRequest,
    chat_messages,
    chat_options,
)
from app.api.translation import OntoChat
from app.errors import BadRequest, NotFound, PlatformError
from app.guardrails import client_policy, keeper
from app.storage.responses import ResponseStore, StoredResponse
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest

ROUTE = "v1/responses"
_ITEM: TypeAdapter[Item] = TypeAdapter(Item)


class ResponsesServing:
    def __init__(
        self, calls: ModelCalls, store: ResponseStore, background: BackgroundResponses
    ) -> None:
        self._calls = calls
        self._store = store
        self._background = background

    async def create(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body = await parse_body(ResponseRequest, request)
        if body.background and not body.store:
            raise BadRequest("background: true needs store: true: a background response is "
                             "kept, to be polled, streamed again or cancelled.",
                             param="background")  # fmt: skip
        history = await self._history(principal.tenant.id, body.previous_response_id)
        call = ResponseCall(body, history, self._store if body.store else None, principal)
        if body.background:
            return await self._background.start(call, request, principal, metered)
        return await self._calls.answer(call, request, principal, metered)

    async def answer_line(
        self, given: dict[str, Any], principal: Principal, metered: MeteredRequest
    ) -> dict[str, Any]:
        """A batch's line for /v1/responses: the response, answered whole (and kept, unless
        it says `store: false`)."""
        body = validated(ResponseRequest, given)
        history = await self._history(principal.tenant.id, body.previous_response_id)
        call = ResponseCall(body, history, self._store if body.store else None, principal)
        return await self._calls.whole(call, principal, metered)

    async def _history(self, tenant_id: str, previous_id: str | None) -> list[dict[str, Any]]:
        """The conversation a follow-up continues: its previous response's, then its output."""
        if previous_id is None:
            return []
        stored = await self._store.get(tenant_id, previous_id)
        if stored is None:
            raise BadRequest(
                f"Previous response with id '{previous_id}' not found: it was never stored "
                "for you, was deleted, or was made with store: false. Send the conversation "
                "as input instead.",
                param="previous_response_id", code="previous_response_not_found",
            )  # fmt: skip
        if stored.live:
            raise BadRequest(
                f"Previous response '{previous_id}' is still {stored.body['status']}: "
                "poll it until it ends, then follow it up.",
                param="previous_response_id", code="previous_response_not_ended",
            )  # fmt: skip
        return [*stored.items, *stored.body["output"]]

    async def retrieve(
        self, response_id: str, principal: Principal, *, stream: bool,
        starting_after: int | None,
    ) -> Response | dict[str, Any]:  # fmt: skip
        """The response as it stands or, `stream`ed, a background response's events after
        `starting_after`, then the live rest."""
        stored = await self._stored(response_id, principal)
        if stream:
            owner = StreamOwner(principal.tenant.id, ROUTE)
            return await self._background.stream(stored, owner, starting_after)
        return await self._background.current(stored, principal.tenant.id)

    async def cancel(self, response_id: str, principal: Principal) -> dict[str, Any]:
        stored = await self._stored(response_id, principal)
        return await self._background.cancel(stored, principal.tenant.id)

    async def delete(self, response_id: str, principal: Principal) -> dict[str, Any]:
        if not await self._store.delete(principal.tenant.id, response_id):
            raise _not_found(response_id)
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    async def input_items(
        self, response_id: str, principal: Principal, *, after: str | None, limit: int,
        order: Literal["asc", "desc"],
    ) -> dict[str, Any]:  # fmt: skip
        """The conversation the response answered, a page at a time (newest first unless
        `order` is asc), after the item `after`."""
        items = (await self._stored(response_id, principal)).items
        if order == "desc":
            items = items[::-1]
        if after is not None:
            ids = [item.get("id") for item in items]
            if after not in ids:
                raise BadRequest(f"No input item '{after}' in response '{response_id}'.",
                                 param="after", code="item_not_found")  # fmt: skip
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return {"object": "list", "data": page, "has_more": len(items) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None}  # fmt: skip

    async def _stored(self, response_id: str, principal: Principal) -> StoredResponse:
        stored = await self._store.get(principal.tenant.id, response_id)
        if stored is None:
            raise _not_found(response_id)
        return stored


def _not_found(response_id: str) -> NotFound:
    return NotFound(
        f"Response with id '{response_id}' not found (never stored for you, or deleted).",
        param="response_id", code="response_not_found",
    )  # fmt: skip


class ResponseCall(OntoChat):
    """A /v1/responses request translated onto chat completions (a `Translation`)."""

    route = ROUTE
    max_tokens_field = "max_output_tokens"

    def __init__(
        self, body: ResponseRequest, history: list[dict[str, Any]],
        store: ResponseStore | None, principal: Principal,
    ) -> None:  # fmt: skip
        try:
            earlier = [_ITEM.validate_python(item) for item in history]
        except ValidationError:  # a stored conversation is the platform's own writing
            raise PlatformError("A stored conversation could not be read.") from None
        messages = chat_messages(body.instructions, [*earlier, *body.input],
                                 first_new=len(earlier))  # fmt: skip
        background = bool(body.background)  # answered as a stream, kept in the event log
        super().__init__(body.model, body.stream or background, body.max_output_tokens,
                         messages, chat_options(body))  # fmt: skip
        self.answers_stream = body.stream
        self.items = [*history, *(_listed(item) for item in body.input)]
        self._background = background
        self._store = store
        self._tenant_id = principal.tenant.id
        #: How its texts are kept (masked, if its client's guardrail policy says so).
        self._keep_text = keeper(client_policy(principal.tenant.guardrails,
                                               principal.key.guardrails))  # fmt: skip
        self._head = ResponseHead(item_id("resp"), body.model, _echoed(body))
        self._events = ResponseEvents(self._head)

    async def whole(
        self, upstream: dict[str, Any], input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        output, cut = output_of(upstream)
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
                   **tool.model_dump(exclude_none=True)} for tool in body.tools],
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
    prefix = "fc" if isinstance(item, FunctionCallItem) else "fco"
    assert isinstance(item, FunctionCallItem | FunctionCallOutputItem)
    listed = item.model_dump(exclude_none=True)
    return {**listed, "id": item.id or item_id(prefix), "status": "completed"}
