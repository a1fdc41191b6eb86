"""A fake of Anthropic's Messages API on a loopback port, in Anthropic's wire format: what a
deployment of the `anthropic` provider kind calls in the tests.

It checks the headers Anthropic requires (`x-api-key: KEY`, `anthropic-version`), keeps each
request's body in `app.state.bodies[model]`, and answers by model:
    claude-ok          "claude upstream says hello", usage 11 in and 5 out, whole or streamed
                       (message_start, ping, one text block of 4 deltas, message_delta,
                       message_stop)
    claude-tool        a tool_use block calling get_weather for Paris (streamed: its input
                       JSON in two parts), stop reason tool_use
    claude-overloaded  529 overloaded_error, in Anthropic's error shape
    claude-cut         streams message_start and 2 deltas, then drops the connection
Asked to continue (the conversation's last assistant turn holds the start of its answer,
followed or not by an instruction to go on), it streams only the words after that start.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.servers import serving

KEY = "sk-ant-test"
WORDS = ["claude ", "upstream ", "says ", "hello"]
USAGE = {"input_tokens": 11, "output_tokens": 5}
TOOL_USE = {"type": "tool_use", "id": "toolu_paris", "name": "get_weather",
            "input": {"city": "Paris"}}  # fmt: skip


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status)


def _message(model: str, content: list[dict], stop_reason: str) -> dict:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": USAGE}  # fmt: skip


def _event(kind: str, **fields: object) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


def _words(body: dict) -> list[str]:
    """The words still to say: after the start of the answer the conversation holds."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "assistant":
            blocks = message.get("content") or []
            said = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
            for index in range(len(WORDS) + 1):
                if said and "".join(WORDS[:index]) == said:
                    return WORDS[index:]
            break
    return WORDS


async def _stream(model: str, words: list[str]) -> AsyncIterator[bytes]:
    start = {**_message(model, [], None), "usage": {"input_tokens": 11, "output_tokens": 1}}
    yield _event("message_start", message=start)
    yield _event("ping")
    if model == "claude-tool":
        yield _event("content_block_start", index=0, content_block={**TOOL_USE, "input": {}})
        for part in ('{"city": ', '"Paris"}'):
            yield _event("content_block_delta", index=0,
                         delta={"type": "input_json_delta", "partial_json": part})  # fmt: skip
        reason = "tool_use"
    else:
        yield _event("content_block_start", index=0, content_block={"type": "text", "text": ""})
        for number, word in enumerate(words):
            if model == "claude-cut" and number == 2:
                raise ConnectionResetError("the fake drops the connection")
            yield _event("content_block_delta", index=0,
                         delta={"type": "text_delta", "text": word})  # fmt: skip
            await asyncio.sleep(0)
        reason = "end_turn"
    yield _event("content_block_stop", index=0)
    yield _event("message_delta", delta={"stop_reason": reason, "stop_sequence": None},
                 usage={"output_tokens": USAGE["output_tokens"]})  # fmt: skip
    yield _event("message_stop")


async def messages(request: Request) -> Response:
    if request.headers.get("x-api-key") != KEY:
        return _error(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        return _error(400, "invalid_request_error", "anthropic-version: header is required")
    body = await request.json()
    model = body.get("model", "")
    request.app.state.bodies[model] = body
    if "max_tokens" not in body:
        return _error(400, "invalid_request_error", "max_tokens: Field required")
    if model == "claude-overloaded":
        return _error(529, "overloaded_error", "Overloaded")
    if body.get("stream"):
        return StreamingResponse(_stream(model, _words(body)), media_type="text/event-stream")
    if model == "claude-tool":
        return JSONResponse(_message(model, [TOOL_USE], "tool_use"))
    return JSONResponse(_message(model, [{"type": "text", "text": "".join(WORDS)}], "end_turn"))


async def models(request: Request) -> Response:
    return JSONResponse({"data": [{"type": "model", "id": "claude-ok"}], "has_more": False})


def create_anthropic_upstream() -> Starlette:
    app = Starlette(routes=[Route("/v1/messages", messages, methods=["POST"]),
                            Route("/v1/models", models)])  # fmt: skip
    app.state.bodies = {}
    return app


@contextmanager
def running_anthropic_upstream(app: Starlette) -> Iterator[str]:
    """Serve the fake on loopback; yields its base URL (as Anthropic's, with /v1)."""
    with serving(app) as base_url:
        yield f"{base_url}/v1"
