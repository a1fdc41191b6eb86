"""Serving /v1: admission and metering, the upstream call, conformant bodies and streams.

A stream that fails after its first byte ends with an OpenAI-style error chunk and no
`[DONE]`, so no client mistakes a truncated answer for a whole one. A client that leaves
cancels the upstream request at once, streamed or not, and its partial usage is recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from app.api.openai.embeddings import EmbeddingRequest, embedding_list
from app.api.openai.images import ImageEditRequest, ImageGenerationRequest, image_list
from app.api.openai.protocol import Dialect, StreamOptions, model_card, new_id, usage_body
from app.errors import BadRequest, NotFound, client_error, invalid_json, invalid_request
from app.http.disconnect import until_disconnected
from app.http.request_state import request_state
from app.http.uploads import read_form
from app.providers import Answer, ChunkStream, Dispatcher, prompt_of
from app.settings import Settings
from app.streams.kept import KeptStreams
from app.streams.kept import StreamOptions as KeptStreamOptions
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.call_meter import CallMeter
from app.usage.counting import prompt_upper_bound
from app.usage.lifecycle import MeteredRequest, PlannedCall
from app.usage.pricing import PriceTable

CALL = "v1"
EMBEDDINGS = "embeddings"
IMAGES = "images/generations"
IMAGE_EDITS = "images/edits"
BodyT = TypeVar("BodyT", bound=BaseModel)
KEEPALIVE = ": keep-alive\n\n"


def _sse(data: dict[str, Any]) -> str:
    return f"data: {orjson.dumps(data).decode()}\n\n"


async def parse_request(model: type[BodyT], request: Request) -> BodyT:
    try:
        given = await request.json()
    except json.JSONDecodeError as exc:
        raise invalid_json(exc.msg, BadRequest) from None
    return _validated(model, given)


def _validated(model: type[BodyT], given: Any) -> BodyT:
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise invalid_request(exc.errors(), BadRequest) from None


class OpenAIServing:
    def __init__(self, settings: Settings, dispatcher: Dispatcher, streams: KeptStreams) -> None:
        self._settings = settings
        self._dispatcher = dispatcher
        self._streams = streams
        self._prices = PriceTable(settings.models)
        self._keepalive = settings.stream_keepalive_seconds
        self._created = int(time.time())

    def _known(self, alias: str) -> str:
        if alias not in self._settings.models:
            raise _unknown_model(alias)
        return alias

    def models(self, principal: Principal) -> dict[str, Any]:
        aliases = [alias for alias in self._settings.models if principal.may_use_model(alias)]
        return {"object": "list", "data": [model_card(a, self._created) for a in aliases]}

    def model(self, principal: Principal, alias: str) -> dict[str, Any]:
        if alias not in self._settings.models or not principal.may_use_model(alias):
            raise _unknown_model(alias)
        return model_card(alias, self._created)

    async def complete(
        self, dialect: Dialect, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body: Any = await parse_request(dialect.request, request)
        alias = self._known(body.model)
        self._dispatcher.serving(alias, dialect.endpoint)  # a 400 before anything is reserved
        limit = self._settings.max_tokens_limit
        requested = body.requested_max_tokens
        max_tokens = requested or limit
        if max_tokens > limit:
            raise BadRequest(f"max_tokens may be at most {limit}.", param="max_tokens")
        prompt = body.prompt_pairs()
        output_bound = max_tokens * body.generations  # every answer the provider generates
        planned = PlannedCall(alias, prompt_upper_bound(prompt) + output_bound)
        meter = await metered.admit(principal, dialect.route, [planned])
        payload = body.model_dump(exclude_none=True, by_alias=True)
        if requested is None:
            payload["max_tokens"] = max_tokens  # the bound the reservation was made for
        if body.stream:
            payload["stream_options"] = {"include_usage": True}
        await meter.start_call(CALL, alias, prompt, output_bound)
        account = meter.account
        state = request_state(request)
        if body.stream:
            opening = self._dispatcher.stream(alias, dialect.endpoint, payload, account=account)
            opened = await self._opened(request, opening)
            if not isinstance(opened, asyncio.Task):
                state.upstream_seconds += opened.upstream_seconds
            completion_id = new_id(dialect.id_prefix)
            events = self._relay(dialect, opened, metered, alias, body.include_usage, completion_id)
            options = _stream_options(body.stream_options)
            if options.kept:
                owner = StreamOwner(principal.tenant.id, dialect.route)
                return await self._streams.start(completion_id, owner, events, metered, options)
            return StreamingResponse(events, media_type="text/event-stream")
        answering = self._dispatcher.complete(alias, dialect.endpoint, payload, account=account)
        answer = await until_disconnected(request, answering)
        state.upstream_seconds += answer.upstream_seconds
        meter.end_call(CALL)
        input_tokens, output_tokens, _ = meter.usage() or (0, 0, None)
        await metered.close(200)
        usage = usage_body(input_tokens, output_tokens)
        return JSONResponse(dialect.whole(answer.data, alias, usage))

    async def embed(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        """/v1/embeddings: its tokens are the provider's count (the embedded model's own)."""
        body = await parse_request(EmbeddingRequest, request)
        alias = self._known(body.model)
        self._dispatcher.serving(alias, EMBEDDINGS)  # a 400 before anything is reserved
        payload = body.model_dump(exclude_none=True)
        planned = PlannedCall(alias, body.token_bound())
        prompt = prompt_of(EMBEDDINGS, payload)
        answer, meter = await self._answer(request, principal, metered, EMBEDDINGS,
                                                 payload, planned, prompt)  # fmt: skip
        input_tokens, _, _ = meter.usage() or (0, 0, None)
        await metered.close(200)
        return JSONResponse(embedding_list(answer.data, alias, input_tokens))

    async def generate_images(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body = await parse_request(ImageGenerationRequest, request)
        payload = body.model_dump(exclude_none=True)
        return await self._images(request, principal, metered, IMAGES, body, payload)

    async def edit_images(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        """A multipart form, sent on as one (its files as they came)."""
        body = _validated(ImageEditRequest, await read_form(request, ("image", "mask")))
        return await self._images(request, principal, metered, IMAGE_EDITS, body, body.payload())

    async def _images(
        self, request: Request, principal: Principal, metered: MeteredRequest, endpoint: str,
        body: ImageGenerationRequest | ImageEditRequest, payload: dict[str, Any],
    ) -> Response:  # fmt: skip
        """/v1/images/*: charged per image by size and quality, limited per minute."""
        alias = self._known(body.model)
        self._dispatcher.serving(alias, endpoint)  # a 400 before anything is reserved
        price = self._prices.image_price(alias, *body.priced_as)
        planned = PlannedCall(alias, prompt_upper_bound(body.prompt), body.n, price)
        answer, _ = await self._answer(request, principal, metered, endpoint, payload,
                                          planned, body.prompt)  # fmt: skip
        await metered.close(200)
        return JSONResponse(image_list(answer.data))

    async def _answer(
        self, request: Request, principal: Principal, metered: MeteredRequest, endpoint: str,
        payload: dict[str, Any], planned: PlannedCall, prompt: str,
    ) -> tuple[Answer, CallMeter]:  # fmt: skip
        """One metered call for a whole answer, admitted as `planned`."""
        meter = await metered.admit(principal, f"v1/{endpoint}", [planned])
        await meter.start_call(CALL, planned.alias, prompt, 0, planned.images, planned.image_price)
        answering = self._dispatcher.complete(
            planned.alias, endpoint, payload, account=meter.account
        )
        answer = await until_disconnected(request, answering)
        request_state(request).upstream_seconds += answer.upstream_seconds
        meter.end_call(CALL)
        return answer, meter

    async def resume(
        self, dialect: Dialect, completion_id: str, principal: Principal, last_event_id: str | None
    ) -> Response:
        owner = StreamOwner(principal.tenant.id, dialect.route)
        return await self._streams.resume(completion_id, owner, last_event_id, BadRequest)

    async def _opened(
        self, request: Request, opening: Awaitable[ChunkStream]
    ) -> ChunkStream | asyncio.Task[ChunkStream]:
        """The stream once its first content has arrived, so that a failure before it is still
        an HTTP status; after `stream_keepalive_seconds` without it, the task still opening
        it: the response then starts at once, with keep-alive comments while it waits."""
        task = asyncio.ensure_future(opening)
        try:
            await until_disconnected(request, asyncio.wait({task}, timeout=self._keepalive))
        except BaseException:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        return task.result() if task.done() else task

    async def _relay(
        self, dialect: Dialect, opened: ChunkStream | asyncio.Task[ChunkStream],
        metered: MeteredRequest, alias: str, include_usage: bool,
        completion_id: str,
    ) -> AsyncIterator[str]:  # fmt: skip
        """The provider's chunks in OpenAI's shape; the ledger row is written before the last
        one. A client that leaves is recorded by the request's metering as it ends."""
        meter = metered.meter
        head = {"id": completion_id, "object": dialect.chunk_object, "created": int(time.time()),
                "model": alias}  # fmt: skip
        metered.metrics.active_streams.inc()
        try:
            stream = opened
            if isinstance(stream, asyncio.Task):  # still waiting for its first content
                while not stream.done():
                    yield KEEPALIVE
                    await asyncio.wait({stream}, timeout=self._keepalive)
                stream = stream.result()
            began = False
            async with stream:  # closed when the client leaves: that ends the upstream request
                async for chunk in stream:
                    choices = dialect.chunk_choices(chunk)
                    if not choices:
                        continue
                    if not began:  # what it is worth is counted by the providers' one rule
                        began = True
                        meter.output_began()
                    head["choices"] = choices
                    yield f"data: {orjson.dumps(head).decode()}\n\n"
            meter.end_call(CALL)
            input_tokens, output_tokens, _ = meter.usage() or (0, 0, None)
            await metered.close(200)
            if include_usage:
                usage = usage_body(input_tokens, output_tokens)
                yield _sse({**head, "choices": [], "usage": usage})
            yield "data: [DONE]\n\n"
        except Exception as exc:  # after the first byte: an error chunk, never [DONE]
            error = client_error(exc)
            error.message = f"{error.message} The answer is incomplete."
            meter.end_call(CALL)
            await metered.close(error.status_code, interrupted=True)
            yield _sse(error.body())
        finally:
            if isinstance(opened, asyncio.Task) and not opened.done():
                opened.cancel()  # the client left while the stream was opening
            metered.metrics.active_streams.dec()


def _stream_options(given: StreamOptions | None) -> KeptStreamOptions:
    if given is None:
        return KeptStreamOptions()
    return KeptStreamOptions(given.resumable, given.on_disconnect)


def _unknown_model(alias: str) -> NotFound:
    return NotFound(
        f"The model '{alias}' does not exist or is not available to you; "
        "GET /v1/models lists the ones you may use.",
        param="model",
        code="model_not_found",
    )
