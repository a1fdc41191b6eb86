"""Serving /v1/responses: OpenAI's Responses API over any deployment that speaks chat
completions, with the responses kept per tenant in the database (`store`, the default), so
that `previous_response_id` continues a conversation on any replica and whichever deployment
answers it next.

A response is answered through the model-call seam (api/model_calls.py) like every dialect:
the same admission, limits, failover and ledger row (route `v1/responses`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response

from app.api.hosted_tools import HostedTools
from app.api.model_calls import ModelCalls, parse_body, validated
from app.api.openai.responses_background import BackgroundResponses
from app.api.openai.responses_call import ROUTE, ResponseCall
from app.api.openai.responses_mcp import hosted_asked
from app.api.openai.responses_request import (
    ResponseRequest,
)
from app.errors import BadRequest, NotFound
from app.storage.responses import ResponseStore, StoredResponse
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest
from app.usage.tool_calls import ToolCalls


class ResponsesServing:
    def __init__(
        self, calls: ModelCalls, store: ResponseStore, background: BackgroundResponses,
        tools: ToolCalls,
    ) -> None:  # fmt: skip
        self._calls = calls
        self._store = store
        self._background = background
        self._tools = tools

    async def create(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body = await parse_body(ResponseRequest, request)
        if body.background and not body.store:
            raise BadRequest("background: true needs store: true: a background response is "
                             "kept, to be polled, streamed again or cancelled.",
                             param="background")  # fmt: skip
        call = await self._call(body, principal, metered)
        if body.background:
            return await self._background.start(call, request, principal, metered)
        return await self._calls.answer(call, request, principal, metered)

    async def answer_line(
        self, given: dict[str, Any], principal: Principal, metered: MeteredRequest
    ) -> dict[str, Any]:
        """A batch's line for /v1/responses: the response, answered whole (and kept, unless
        it says `store: false`)."""
        body = validated(ResponseRequest, given)
        return await self._calls.whole(await self._call(body, principal, metered), principal,
                                       metered)  # fmt: skip

    async def _call(
        self, body: ResponseRequest, principal: Principal, metered: MeteredRequest
    ) -> ResponseCall:
        """The request translated: with its conversation so far, and its hosted tools listed."""
        history = await self._history(principal.tenant.id, body.previous_response_id)
        asked = hosted_asked(body.tools)
        hosted = None if not asked else await HostedTools.listed(
            self._tools, principal, metered.request_id, asked, body.max_tool_calls)  # fmt: skip
        return ResponseCall(body, history, self._store if body.store else None, principal,
                            hosted)  # fmt: skip

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
