"""Serving /v1 in OpenAI's protocol: chat completions and completions through the model-call
seam (api/model_calls.py), embeddings and images as whole answers, and the model list."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from app.api.model_calls import (
    CALL,
    ModelCalls,
    answered_for,
    parse_body,
    unknown_model,
    validated,
)
from app.api.openai.completions import CHAT, COMPLETION, Dialect, OpenAICall
from app.api.openai.embeddings import EmbeddingRequest, embedding_list
from app.api.openai.images import ImageEditRequest, ImageGenerationRequest, image_list
from app.api.openai.moderations import ModerationRequest, moderation_list
from app.api.openai.protocol import model_card
from app.errors import BadRequest
from app.http.uploads import read_form
from app.providers import Answer, Dispatcher, prompt_of
from app.settings import Settings
from app.streams.kept import KeptStreams
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.call_meter import CallMeter
from app.usage.counting import prompt_upper_bound
from app.usage.lifecycle import MeteredRequest, PlannedCall
from app.usage.pricing import PriceTable

EMBEDDINGS = "embeddings"
MODERATIONS = "moderations"
IMAGES = "images/generations"
IMAGE_EDITS = "images/edits"


class OpenAIServing:
    def __init__(self, calls: ModelCalls, settings: Settings, dispatcher: Dispatcher,
                 streams: KeptStreams) -> None:  # fmt: skip
        self._calls = calls
        self._settings = settings
        self._dispatcher = dispatcher
        self._streams = streams
        self._prices = PriceTable(settings.models)
        self._created = int(time.time())

    def models(self, principal: Principal) -> dict[str, Any]:
        aliases = [alias for alias in self._settings.models if principal.may_use_model(alias)]
        return {"object": "list", "data": [model_card(a, self._created) for a in aliases]}

    def model(self, principal: Principal, alias: str) -> dict[str, Any]:
        if alias not in self._settings.models or not principal.may_use_model(alias):
            raise unknown_model(alias)
        return model_card(alias, self._created)

    async def complete(
        self, dialect: Dialect, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body: Any = await parse_body(dialect.request, request)
        return await self._calls.answer(OpenAICall(dialect, body), request, principal, metered)

    async def answer_line(
        self, endpoint: str, given: dict[str, Any], principal: Principal,
        metered: MeteredRequest,
    ) -> dict[str, Any]:  # fmt: skip
        """A batch's line for /v1/chat/completions, /v1/completions or /v1/embeddings: the
        body of its whole answer, through the path of an interactive call."""
        if endpoint == "/v1/embeddings":
            return await self.embedding(validated(EmbeddingRequest, given), principal, metered)
        dialect = CHAT if endpoint == "/v1/chat/completions" else COMPLETION
        body: Any = validated(dialect.request, given)
        return await self._calls.whole(OpenAICall(dialect, body), principal, metered)

    async def embed(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        """/v1/embeddings: its tokens are the provider's count (the embedded model's own)."""
        body = await parse_body(EmbeddingRequest, request)
        embeddings = await self.embedding(body, principal, metered, request)
        return JSONResponse(embeddings, headers=metered.meter.account.cache_headers())

    async def embedding(
        self, body: EmbeddingRequest, principal: Principal, metered: MeteredRequest,
        request: Request | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The embeddings' list, its ledger row written (for `request`, or a batch's line)."""
        alias = self._calls.known(body.model)
        self._dispatcher.serving(alias, EMBEDDINGS)  # a 400 before anything is reserved
        payload = body.model_dump(exclude_none=True)
        planned = PlannedCall(alias, body.token_bound())
        prompt = prompt_of(EMBEDDINGS, payload)
        answer, meter = await self._answer(request, principal, metered, EMBEDDINGS,
                                                 payload, planned, prompt)  # fmt: skip
        input_tokens, _, _ = meter.usage() or (0, 0, None)
        await metered.close(200)
        return embedding_list(answer.data, alias, input_tokens)

    async def moderate(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        """/v1/moderations, passed through to the alias's moderation deployment, metered."""
        body = await parse_body(ModerationRequest, request)
        alias = self._calls.known(body.model)
        self._dispatcher.serving(alias, MODERATIONS)  # a 400 before anything is reserved
        payload = body.model_dump(exclude_none=True)
        planned = PlannedCall(alias, body.token_bound())
        prompt = prompt_of(MODERATIONS, payload)
        answer, _ = await self._answer(request, principal, metered, MODERATIONS, payload,
                                       planned, prompt)  # fmt: skip
        await metered.close(200)
        return JSONResponse(moderation_list(answer.data, alias))

    async def generate_images(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        body = await parse_body(ImageGenerationRequest, request)
        payload = body.model_dump(exclude_none=True)
        return await self._images(request, principal, metered, IMAGES, body, payload)

    async def edit_images(
        self, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        """A multipart form, sent on as one (its files as they came)."""
        body = validated(ImageEditRequest, await read_form(request, ("image", "mask")))
        return await self._images(request, principal, metered, IMAGE_EDITS, body, body.payload())

    async def _images(
        self, request: Request, principal: Principal, metered: MeteredRequest, endpoint: str,
        body: ImageGenerationRequest | ImageEditRequest, payload: dict[str, Any],
    ) -> Response:  # fmt: skip
        """/v1/images/*: charged per image by size and quality, limited per minute."""
        alias = self._calls.known(body.model)
        self._dispatcher.serving(alias, endpoint)  # a 400 before anything is reserved
        price = self._prices.image_price(alias, *body.priced_as)
        planned = PlannedCall(alias, prompt_upper_bound(body.prompt), body.n, price)
        answer, _ = await self._answer(request, principal, metered, endpoint, payload,
                                          planned, body.prompt)  # fmt: skip
        await metered.close(200)
        return JSONResponse(image_list(answer.data))

    async def _answer(
        self, request: Request | None, principal: Principal, metered: MeteredRequest,
        endpoint: str, payload: dict[str, Any], planned: PlannedCall, prompt: str,
    ) -> tuple[Answer, CallMeter]:  # fmt: skip
        """One metered call for a whole answer, admitted as `planned`."""
        meter = await metered.admit(principal, f"v1/{endpoint}", [planned])
        await meter.start_call(CALL, planned.alias, prompt, 0, planned.images, planned.image_price)
        answering = self._dispatcher.complete(
            planned.alias, endpoint, payload, account=meter.account
        )
        answer = await answered_for(request, answering)
        meter.end_call(CALL)
        return answer, meter

    async def resume(
        self, dialect: Dialect, completion_id: str, principal: Principal, last_event_id: str | None
    ) -> Response:
        owner = StreamOwner(principal.tenant.id, dialect.route)
        return await self._streams.resume(completion_id, owner, last_event_id, BadRequest)
