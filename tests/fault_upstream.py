"""An OpenAI-compatible upstream of our own that fails on request, run on a loopback port.

The model name chooses the behaviour:
    ok             answers "fault upstream says hello" (streamed in 4 chunks)
    rate-limited   429 with Retry-After: 7
    broken         500
    hang           accepts the request and never answers
    drop           streams 3 chunks, then drops the connection
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.servers import serving

WORDS = ["fault ", "upstream ", "says ", "hello"]


def _chunk(model: str, delta: dict[str, str], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _stream(model: str, drop: bool) -> AsyncIterator[str]:
    yield _chunk(model, {"role": "assistant", "content": ""})
    for index, word in enumerate(WORDS):
        if drop and index == 3:
            raise ConnectionError("fault upstream drops the connection")
        yield _chunk(model, {"content": word})
        await asyncio.sleep(0.01)
    yield _chunk(model, {}, "stop")
    yield "data: [DONE]\n\n"


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    # Azure names the deployment in the path, OpenAI in the body.
    model = request.path_params.get("deployment") or body.get("model", "ok")
    if model == "rate-limited":
        error = {"error": {"message": "slow down", "type": "rate_limit"}}
        return JSONResponse(error, status_code=429, headers={"Retry-After": "7"})
    if model == "broken":
        return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
    if model == "hang":
        await asyncio.sleep(3600)
    if body.get("stream"):
        return StreamingResponse(_stream(model, model == "drop"), media_type="text/event-stream")
    message = {"role": "assistant", "content": "".join(WORDS)}
    return JSONResponse(
        {
            "id": "chatcmpl-fault",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        }
    )


async def models(_: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "ok", "object": "model"}]})


def create_fault_upstream() -> Starlette:
    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route(
                "/openai/deployments/{deployment}/chat/completions",
                chat_completions,
                methods=["POST"],
            ),
            Route("/v1/models", models),
        ]
    )


@contextmanager
def running_fault_upstream() -> Iterator[str]:
    """Serve the fault upstream on loopback; yields its /v1 base URL."""
    with serving(create_fault_upstream()) as base_url:
        yield f"{base_url}/v1"
