"""An OpenAI-compatible upstream of our own that fails on request, run on a loopback port.

The model name chooses the behaviour:
    ok             answers "fault upstream says hello" (streamed in 4 chunks)
    rate-limited   429 with Retry-After: 7
    broken         500
    hang           accepts the request and never answers
    drop           streams 3 chunks, then drops the connection
    slow           streams a chunk every 50 ms (or, not streaming, waits) until the client
                   leaves, and notes when it did in `app.state.closed_at[model]`
    paced          answers like ok, but takes 2 s: 20 chunks 100 ms apart (or waits 2 s)
Every request is counted in `app.state.hits[model]`; its body is kept in `app.state.bodies`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers import serving

WORDS = ["fault ", "upstream ", "says ", "hello"]


def _chunk(model: str, chat: bool, text: str | None, finish: str | None = None) -> str:
    if chat:
        delta = {"content": text} if text is not None else {}
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish}
    body = {
        "id": "cmpl-fault",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _stream(request: Request, model: str, chat: bool) -> AsyncIterator[str]:
    if chat:
        yield _chunk(model, chat, "")
    if model == "slow":
        try:
            for _ in range(600):
                yield _chunk(model, chat, "tick ")
                await asyncio.sleep(0.05)
        finally:
            request.app.state.closed_at[model] = time.monotonic()
        return
    if model == "paced":
        for _ in range(20):
            yield _chunk(model, chat, "tick ")
            await asyncio.sleep(0.1)
        yield _chunk(model, chat, None, "stop")
        yield "data: [DONE]\n\n"
        return
    for index, word in enumerate(WORDS):
        if model == "drop" and index == 3:
            raise ConnectionError("fault upstream drops the connection")
        yield _chunk(model, chat, word)
        await asyncio.sleep(0.01)
    yield _chunk(model, chat, None, "stop")
    yield "data: [DONE]\n\n"


async def _wait_for_disconnect(request: Request, model: str) -> None:
    for _ in range(6000):
        if await request.is_disconnected():
            break
        await asyncio.sleep(0.005)
    request.app.state.closed_at[model] = time.monotonic()


async def _answer(request: Request, chat: bool) -> Response:
    body = await request.json()
    # Azure names the deployment in the path, OpenAI in the body.
    model = request.path_params.get("deployment") or body.get("model", "ok")
    request.app.state.hits[model] += 1
    request.app.state.bodies[model] = body
    if model == "rate-limited":
        error = {"error": {"message": "slow down", "type": "rate_limit"}}
        return JSONResponse(error, status_code=429, headers={"Retry-After": "7"})
    if model == "broken":
        return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
    if model == "hang":
        await asyncio.sleep(3600)
    if body.get("stream"):
        return StreamingResponse(_stream(request, model, chat), media_type="text/event-stream")
    if model == "slow":
        await _wait_for_disconnect(request, model)
        return Response(status_code=499)
    if model == "paced":
        await asyncio.sleep(2)
    text = "".join(WORDS)
    choice = (
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if chat
        else {"index": 0, "text": text, "finish_reason": "stop"}
    )
    return JSONResponse(
        {
            "id": "cmpl-fault",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        }
    )


async def chat_completions(request: Request) -> Response:
    return await _answer(request, chat=True)


async def completions(request: Request) -> Response:
    return await _answer(request, chat=False)


async def models(_: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "ok", "object": "model"}]})


def create_fault_upstream() -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route(
                "/openai/deployments/{deployment}/chat/completions",
                chat_completions,
                methods=["POST"],
            ),
            Route("/v1/models", models),
        ]
    )
    app.state.hits = Counter()
    app.state.closed_at = {}
    app.state.bodies = {}
    return app


@contextmanager
def running_fault_upstream(app: Starlette | None = None) -> Iterator[str]:
    """Serve the fault upstream on loopback; yields its /v1 base URL."""
    with serving(app or create_fault_upstream()) as base_url:
        yield f"{base_url}/v1"
