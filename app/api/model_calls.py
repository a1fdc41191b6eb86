"""One request's model call, in whichever dialect it came: the seam every dialect plugs into.

A dialect (OpenAI's chat completions and completions, the Responses API, Anthropic's Messages)
parses its own request and translates it into a `Translation` (translation.py): what to ask of
which alias, and how to render the answer, whole or as a stream (a `Relay`). `ModelCalls.answer`
does the rest the same way for all of them: admission and metering, the upstream call through the
dispatcher's failover, the ledger row, and the stream's honest end.

A stream that fails after its first byte ends with the dialect's failure event and never its
clean end, so no client mistakes a truncated answer for a whole one. A client that leaves
cancels the upstream request at once, streamed or not, and its partial usage is recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from typing import Any, NamedTuple, TypeVar, cast

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from app.api.hosted_tools import HostedTools, StreamedRound, answer_message
from app.api.translation import HostedRelay, Relay, Translation
from app.errors import (
    BadRequest,
    NotFound,
    client_error,
    invalid_json,
    invalid_request,
)
from app.http.disconnect import until_disconnected
from app.http.request_state import request_state
from app.providers import Answer, ChunkStream, Dispatcher, Prompt, prompt_of
from app.settings import Settings
from app.streams.kept import KeptStreams
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.call_meter import CallMeter
from app.usage.counting import prompt_upper_bound
from app.usage.lifecycle import MeteredRequest, PlannedCall

CALL = "v1"
KEEPALIVE = ": keep-alive\n\n"
BodyT = TypeVar("BodyT", bound=BaseModel)


async def parse_body(model: type[BodyT], request: Request) -> BodyT:
    """The request's JSON body as `model`, or a 400 naming the field that is wrong."""
    try:
        given = await request.json()
    except json.JSONDecodeError as exc:
        raise invalid_json(exc.msg, BadRequest) from None
    return validated(model, given)


def validated(model: type[BodyT], given: Any) -> BodyT:
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise invalid_request(exc.errors(), BadRequest) from None


async def answered_for(request: Request | None, answering: Awaitable[Answer]) -> Answer:
    """The upstream answer, its time counted as the request's; cancelled if the request's
    client leaves first (a batch's line, with no request, has no client to leave)."""
    if request is None:
        return await answering
    answer = await until_disconnected(request, answering)
    request_state(request).upstream_seconds += answer.upstream_seconds
    return answer


def unknown_model(alias: str) -> NotFound:
    return NotFound(
        f"The model '{alias}' does not exist or is not available to you; "
        "GET /v1/models lists the ones you may use.",
        param="model",
        code="model_not_found",
    )


class Admitted(NamedTuple):
    """An admitted call: its meter, the upstream request's body, its prompt."""

    meter: CallMeter
    payload: dict[str, Any]
    prompt: Prompt


class ModelCalls:
    """Answers `Translation`s through the dispatcher (module doc)."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher, streams: KeptStreams) -> None:
        self._settings = settings
        self._dispatcher = dispatcher
        self._streams = streams
        self._keepalive = settings.stream_keepalive_seconds

    def known(self, alias: str) -> str:
        if alias not in self._settings.models:
            raise unknown_model(alias)
        return alias

    async def answer(
        self, call: Translation, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        if call.stream:
            id_, events = await self.streamed(call, request, principal, metered)
            headers = metered.meter.account.cache_headers()
            options = call.kept()
            if options.kept:
                owner = StreamOwner(principal.tenant.id, call.route)
                response = await self._streams.start(id_, owner, events, metered, options)
                response.headers.update(headers)
                return response
            return StreamingResponse(events, media_type="text/event-stream", headers=headers)
        body = await self.whole(call, principal, metered, request)
        headers = metered.meter.account.cache_headers()
        # orjson: a third of json.dumps' time for an answer
        return Response(orjson.dumps(body), media_type="application/json", headers=headers)

    async def whole(
        self, call: Translation, principal: Principal, metered: MeteredRequest,
        request: Request | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The dialect's body of a whole answer, its ledger row written; the upstream call is
        cancelled if the `request`'s client leaves (a batch's line has no client)."""
        meter, payload, prompt = await self.admit(call, principal, metered)
        answering = self._dispatcher.complete(call.alias, call.endpoint, payload,
                                              account=meter.account, prompt=prompt)  # fmt: skip
        answer = await answered_for(request, answering)
        meter.end_call(CALL)
        if call.hosted is not None:
            answer = await self._hosted_rounds(call, call.hosted, meter, payload, answer, request)
        input_tokens, output_tokens, _ = meter.usage() or (0, 0, None)
        # The ledger row and the dialect's body (which a dialect may keep) are written at once.
        body, _ = await asyncio.gather(call.whole(answer.data, input_tokens, output_tokens),
                                       metered.close(200))  # fmt: skip
        return body

    async def _hosted_rounds(
        self, call: Translation, hosted: HostedTools, meter: CallMeter, payload: dict[str, Any],
        answer: Answer, request: Request | None,
    ) -> Answer:  # fmt: skip
        """The answer once the hosted tools its rounds call are called (hosted_tools.py), with
        the hosted calls taken out of it."""
        rounds = 0
        while pending := hosted.pending(message := answer_message(answer.data)):
            for one in pending:
                await hosted.call(one)
            if hosted.client_called(message):
                hosted.ended(pending)
                break
            payload = hosted.next_payload(payload, message.get("content"), pending)
            rounds += 1
            prompt = await self._next_round(call, meter, payload, (CALL, rounds))
            answering = self._dispatcher.complete(call.alias, call.endpoint, payload,
                                                  account=meter.account, prompt=prompt)  # fmt: skip
            answer = await answered_for(request, answering)
            meter.end_call((CALL, rounds))
        return replace(answer, data=hosted.without_hosted(answer.data))

    @staticmethod
    async def _next_round(
        call: Translation, meter: CallMeter, payload: dict[str, Any], call_id: object
    ) -> Prompt:
        """Open the call of another round (reserving more, if the budget has it): its prompt."""
        prompt = prompt_of(call.endpoint, payload)
        await meter.start_call(call_id, call.alias, prompt, payload["max_tokens"])
        return prompt

    async def streamed(
        self, call: Translation, request: Request, principal: Principal,
        metered: MeteredRequest, *, detached: bool = False,
    ) -> tuple[str, AsyncIterator[str]]:  # fmt: skip
        """The stream's id and its frames in the call's dialect (`admit`, then `opened`)."""
        admitted = await self.admit(call, principal, metered)
        return await self.opened(call, admitted, request, metered, detached=detached)

    async def opened(
        self, call: Translation, admitted: Admitted, request: Request, metered: MeteredRequest,
        *, detached: bool = False,
    ) -> tuple[str, AsyncIterator[str]]:  # fmt: skip
        """The admitted call's stream: its id and its frames in the call's dialect. Its first
        content is awaited first (so that a failure before it is still an HTTP status) unless
        the stream is `detached` from its request: then it opens as it is read, whatever the
        client does."""
        meter, payload, prompt = admitted
        opening = self._dispatcher.stream(call.alias, call.endpoint, payload,
                                          account=meter.account, prompt=prompt)  # fmt: skip
        if detached:
            opened: ChunkStream | asyncio.Task[ChunkStream] = asyncio.ensure_future(opening)
        else:
            opened = await self._opened(request, opening)
            if not isinstance(opened, asyncio.Task):
                request_state(request).upstream_seconds += opened.upstream_seconds
        id_ = call.new_id()
        return id_, self._relay(call, call.relay(id_), opened, metered, payload)

    async def admit(
        self, call: Translation, principal: Principal, metered: MeteredRequest
    ) -> Admitted:
        """The request admitted for the call and its call opened: its meter, the upstream
        request's body, and its prompt (a 400 or 429 before anything is kept)."""
        alias = self.known(call.alias)
        self._dispatcher.serving(alias, call.endpoint)  # a 400 before anything is reserved
        limit = self._settings.max_tokens_limit
        max_tokens = call.requested_max_tokens or limit
        if max_tokens > limit:
            field = call.max_tokens_field
            raise BadRequest(f"{field} may be at most {limit}.", param=field)
        prompt = call.prompt()
        output_bound = max_tokens * call.generations  # every answer the provider generates
        planned = PlannedCall(alias, prompt_upper_bound(prompt) + output_bound)
        meter = await metered.admit(principal, call.route, [planned])
        meter.start_admitted(CALL, alias, prompt, planned.tokens, meter.ticket.cost)  # its own
        return Admitted(meter, call.payload(max_tokens), prompt)

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
        self, call: Translation, relay: Relay, opened: ChunkStream | asyncio.Task[ChunkStream],
        metered: MeteredRequest, payload: dict[str, Any],
    ) -> AsyncIterator[str]:  # fmt: skip
        """The provider's chunks in the dialect's frames (round after round, while the model
        calls only hosted tools); the ledger row is written before the last ones. A client
        that leaves is recorded by the request's metering as it ends."""
        meter = metered.meter
        hosted = call.hosted
        metered.metrics.active_streams.inc()
        call_id: object = CALL
        try:
            stream = opened
            if isinstance(stream, asyncio.Task):  # still waiting for its first content
                while not stream.done():
                    yield KEEPALIVE
                    await asyncio.wait({stream}, timeout=self._keepalive)
                stream = stream.result()
            rounds, began = 0, False
            while True:
                streamed = None if hosted is None else StreamedRound(hosted)
                async with stream:  # closed when the client leaves: that ends the upstream call
                    async for chunk in stream:
                        frames = relay.frames(chunk if streamed is None else streamed.passed(chunk))
                        if not frames:
                            continue
                        if not began:  # what it is worth is counted by the providers' one rule
                            began = True
                            meter.output_began()
                        for frame in frames:  # one at a time: a kept stream numbers each
                            yield frame
                meter.end_call(call_id)
                if hosted is None or streamed is None:
                    break
                message = streamed.message()
                pending = hosted.pending(message)
                for one in pending:
                    for frame in cast(HostedRelay, relay).calling(one):
                        yield frame
                    await hosted.call(one)
                    for frame in cast(HostedRelay, relay).called(one):
                        yield frame
                if not pending or hosted.client_called(message):
                    break
                payload = hosted.next_payload(payload, streamed.said, pending)
                rounds += 1
                call_id = (CALL, rounds)
                prompt = await self._next_round(call, meter, payload, call_id)
                stream = await self._dispatcher.stream(
                    call.alias, call.endpoint, payload, account=meter.account, prompt=prompt
                )
            input_tokens, output_tokens, _ = meter.usage() or (0, 0, None)
            await metered.close(200)
            for frame in await relay.closing(input_tokens, output_tokens):
                yield frame
        except Exception as exc:  # after the first byte: the dialect's failure, never its end
            error = client_error(exc)
            meter.end_call(call_id)
            await metered.close(error.status_code, interrupted=True)
            for frame in await relay.failing(error):
                yield frame
        finally:
            if isinstance(opened, asyncio.Task) and not opened.done():
                opened.cancel()  # the client left while the stream was opening
            metered.metrics.active_streams.dec()
