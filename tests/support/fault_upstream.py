"""An OpenAI-compatible upstream of our own that fails on request, run on a loopback port.

The model name chooses the behaviour:
    ok             answers "fault upstream says hello" (streamed in 4 chunks)
    rate-limited   429 with Retry-After: 7
    broken         500 (as llama.cpp answers a bad sampling parameter)
    unavailable    503
    refuses        400 context_length_exceeded, in OpenAI's error shape
    hang           accepts the request and never answers
    late           sends its headers (and, streaming, the role chunk) at once, then answers
                   like ok after 2 s; a stream closed before notes when in `closed_at`
    drop           streams 3 chunks, then drops the connection
    html           200 with a proxy's HTML error page, streamed or not
    empty          streaming: 200 and an event stream with no chunk (llama.cpp's answer to a
                   prompt longer than its context)
    unfinished     streams 3 chunks, then ends with neither finish_reason nor [DONE]
    malformed      streams 2 chunks, then `data: [1]`; not streaming: `[1]`
    error-chunk    streams 2 chunks, then an error chunk
    slow           streams a chunk every 50 ms (or, not streaming, waits) until the client
                   leaves, and notes when it did in `app.state.closed_at[model]` (how many
                   calls not streamed still wait: `app.state.open_calls[model]`)
    paced          answers like ok, but takes 2 s: 20 chunks 100 ms apart (or waits 2 s)
    brief          answers like ok, but takes 0.3 s
    tool           calls two tools at once (TOOL_CALLS), streamed as OpenAI streams tool-call
                   deltas (each call's name, then its arguments in two parts)
    tool-drop      streams the start of a tool call, then drops the connection
    tool-once      calls the tools like tool until the conversation holds their results (tool
                   messages), then answers like ok: an agent's loop, run to its end
    json           answers like ok, with JSON for its content: {"city": "Paris"}
    one-short      images: makes one image fewer than asked for
    generous       ignores `n` (as a provider honouring a parameter of its own would): 10
                   choices for chat and completions, streamed or not, and 10 images
/v1/embeddings answers every model but the failures above with `vector(text)` per input,
/v1/moderations with a verdict per input (nothing flagged), and
/v1/images/generations with `n` images (URLs, or 1x1 PNGs as b64_json), /v1/images/edits
(a multipart form) with `n` image URLs.
Every request is counted in `app.state.hits[model]`; its body is kept in `app.state.bodies`.

Asked to continue an answer (the messages end with a partial assistant answer, as the
platform's continuation sends it: marked `prefix`, or followed by its instruction), a chat
model streams only the words of its answer after that partial one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.servers import serving

WORDS = ["fault ", "upstream ", "says ", "hello"]
HELLO = "".join(WORDS)


def _choices(model: str) -> int:
    return 10 if model == "generous" else 1


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
        "choices": [{**choice, "index": index} for index in range(_choices(model))],
    }
    return f"data: {json.dumps(body)}\n\n"


HTML = "<html><body><h1>502 Bad Gateway</h1></body></html>"

TOOL_CALLS = [
    {"id": f"call_{city}", "type": "function",
     "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
    for city in ("Paris", "Rome")
]  # fmt: skip


def _delta(model: str, delta: dict, finish: str | None = None) -> str:
    body = {
        "id": "cmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _tool_stream(model: str) -> AsyncIterator[str]:
    yield _delta(model, {"role": "assistant", "content": None})
    for index, call in enumerate(TOOL_CALLS):
        head = {"index": index, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""}}  # fmt: skip
        yield _delta(model, {"tool_calls": [head]})
        arguments = call["function"]["arguments"]
        for part in (arguments[:6], arguments[6:]):
            if model == "tool-drop":
                raise ConnectionError("fault upstream drops the connection")
            yield _delta(model, {"tool_calls": [{"index": index, "function": {"arguments": part}}]})
            await asyncio.sleep(0.01)
    yield _delta(model, {}, "tool_calls")
    yield "data: [DONE]\n\n"


def _continued_from(body: dict) -> str:
    """The partial answer a continuation request carries, else ""."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    if last.get("role") == "assistant" and last.get("prefix"):
        return last["content"]
    asked = last.get("role") == "user" and "cut off" in str(last.get("content"))
    if asked and len(messages) >= 2 and messages[-2].get("role") == "assistant":
        return messages[-2]["content"]
    return ""


def _words(body: dict) -> list[str]:
    """The answer's words, after those of the partial answer it is asked to continue."""
    already, skipped = _continued_from(body), 0
    while skipped < len(WORDS) and already.startswith("".join(WORDS[: skipped + 1])):
        skipped += 1
    return WORDS[skipped:]


async def _stream(request: Request, model: str, chat: bool, body: dict) -> AsyncIterator[str]:
    if model == "empty":
        return
    if chat:
        yield _chunk(model, chat, "")
    if model == "late":
        try:
            await asyncio.sleep(2)
        except asyncio.CancelledError:  # the platform closed the stream
            request.app.state.closed_at[model] = time.monotonic()
            raise
    if model == "brief":
        await asyncio.sleep(0.3)
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
    for index, word in enumerate(_words(body)):
        if model == "drop" and index == 3:
            raise ConnectionError("fault upstream drops the connection")
        if model == "unfinished" and index == 3:
            return
        if model == "malformed" and index == 2:
            yield "data: [1]\n\n"
            return
        if model == "error-chunk" and index == 2:
            yield 'data: {"error": {"message": "the model crashed"}}\n\n'
            return
        yield _chunk(model, chat, word)
        await asyncio.sleep(0.01)
    yield _chunk(model, chat, None, "stop")
    yield "data: [DONE]\n\n"


async def _wait_for_disconnect(request: Request, model: str) -> None:
    request.app.state.open_calls[model] += 1
    try:
        for _ in range(6000):
            if await request.is_disconnected():
                break
            await asyncio.sleep(0.005)
    finally:
        request.app.state.open_calls[model] -= 1
    request.app.state.closed_at[model] = time.monotonic()


async def _received(request: Request) -> tuple[str, dict]:
    """The request's model and body, counted and kept."""
    body = await request.json()
    # Azure names the deployment in the path, OpenAI in the body.
    model = request.path_params.get("deployment") or body.get("model", "ok")
    request.app.state.hits[model] += 1
    request.app.state.bodies[model] = body
    return model, body


async def _failure(model: str, streaming: bool = False) -> Response | None:
    """The failure `model` names, whatever the endpoint; None for an answer."""
    if model == "rate-limited":
        error = {"error": {"message": "slow down", "type": "rate_limit"}}
        return JSONResponse(error, status_code=429, headers={"Retry-After": "7"})
    if model == "broken":
        return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
    if model == "unavailable":
        return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, 503)
    if model == "refuses":
        error = {"message": "This model's maximum context length is 2048 tokens.",
                 "type": "invalid_request_error", "param": "messages",
                 "code": "context_length_exceeded"}  # fmt: skip
        return JSONResponse({"error": error}, 400)
    if model == "hang":
        await asyncio.sleep(3600)
    if model == "html":
        return Response(HTML, media_type="text/html")
    if model == "malformed" and not streaming:
        return JSONResponse([1])
    return None


async def _answer(request: Request, chat: bool) -> Response:
    model, body = await _received(request)
    if (failure := await _failure(model, bool(body.get("stream")))) is not None:
        return failure
    if model == "tool-once" and any(m.get("role") == "tool" for m in body.get("messages") or ()):
        model = "ok"  # the results of its tools are in: it answers
    if model.startswith("tool") and body.get("stream"):
        return StreamingResponse(_tool_stream(model), media_type="text/event-stream")
    if model in ("tool", "tool-once"):
        return JSONResponse(_tool_answer())
    if body.get("stream"):
        events = _stream(request, model, chat, body)
        return StreamingResponse(events, media_type="text/event-stream")
    if model == "slow":
        await _wait_for_disconnect(request, model)
        return Response(status_code=499)
    if model == "late":
        return StreamingResponse(_late_answer(chat), media_type="application/json")
    if model in ("paced", "brief"):
        await asyncio.sleep(2 if model == "paced" else 0.3)
    return JSONResponse(_answer_body(model, chat))


async def _late_answer(chat: bool) -> AsyncIterator[bytes]:
    """Headers at once, the body after 2 s."""
    await asyncio.sleep(2)
    yield json.dumps(_answer_body("late", chat)).encode()


def _tool_answer() -> dict:
    message = {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}
    return {
        "id": "cmpl-fault", "object": "chat.completion", "created": int(time.time()),
        "model": "tool",
        "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50},
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }  # fmt: skip


def _answer_body(model: str, chat: bool) -> dict:
    text = json.dumps({"city": "Paris"}) if model == "json" else "".join(WORDS)
    choice = (
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if chat
        else {"index": 0, "text": text, "finish_reason": "stop"}
    )
    return {
        "id": "cmpl-fault",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{**choice, "index": index} for index in range(_choices(model))],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
    }


async def chat_completions(request: Request) -> Response:
    return await _answer(request, chat=True)


async def completions(request: Request) -> Response:
    return await _answer(request, chat=False)


def vector(text: str) -> list[float]:
    """The fault upstream's embedding of `text`: 8 numbers that depend on it alone."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(byte / 255, 4) for byte in digest[:8]]


async def embeddings(request: Request) -> Response:
    """An embedding per input, 1 token a word; base64 if asked, as OpenAI encodes it."""
    model, body = await _received(request)
    if (failure := await _failure(model)) is not None:
        return failure
    given = body["input"]
    texts = [given] if isinstance(given, str) else given
    data = []
    for index, text in enumerate(texts):
        numbers = vector(str(text))
        encoded = base64.b64encode(struct.pack(f"<{len(numbers)}f", *numbers)).decode()
        as_base64 = body.get("encoding_format") == "base64"
        data.append({"object": "embedding", "index": index,
                     "embedding": encoded if as_base64 else numbers})  # fmt: skip
    tokens = sum(len(str(text).split()) for text in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JSONResponse({"object": "list", "data": data, "model": model, "usage": usage})


async def moderations(request: Request) -> Response:
    """A verdict per input: nothing flagged, and no usage (as OpenAI's moderations report)."""
    model, body = await _received(request)
    if (failure := await _failure(model)) is not None:
        return failure
    given = body["input"]
    results = [{"flagged": False, "categories": {"harassment": False},
                "category_scores": {"harassment": 0.0}}
               for _ in ([given] if isinstance(given, str) else given)]  # fmt: skip
    return JSONResponse({"id": "modr-fault", "model": model, "results": results})


#: The smallest PNG (1x1, transparent): what `b64_json` images hold.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAA"
    "BJRU5ErkJggg=="
)


async def image_generations(request: Request) -> Response:
    """`n` images (`one-short`: one fewer), as URLs or base64 PNGs."""
    model, body = await _received(request)
    if (failure := await _failure(model)) is not None:
        return failure
    count = body.get("n", 1) - (1 if model == "one-short" else 0)
    count = 10 if model == "generous" else count
    if body.get("response_format") == "b64_json":
        items = [{"b64_json": PIXEL} for _ in range(count)]
    else:
        items = [{"url": f"https://images.invalid/{model}/{i}.png"} for i in range(count)]
    for item in items:
        item["revised_prompt"] = f"A picture of: {body['prompt']}"
    return JSONResponse({"created": int(time.time()), "data": items})


async def image_edits(request: Request) -> Response:
    """A multipart edit: `n` images; its fields and files (name, size) kept in `bodies`."""
    async with request.form() as form:
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        files = [
            (key, value.filename, len(await value.read()))
            for key, value in form.multi_items()
            if not isinstance(value, str)
        ]
    model = request.path_params.get("deployment") or fields.get("model", "ok")
    request.app.state.hits[model] += 1
    request.app.state.bodies[model] = {**fields, "files": files}
    if (failure := await _failure(model)) is not None:
        return failure
    count = int(fields.get("n", 1))
    items = [{"url": f"https://images.invalid/{model}/edit-{i}.png"} for i in range(count)]
    return JSONResponse({"created": int(time.time()), "data": items})


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
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/images/generations", image_generations, methods=["POST"]),
            Route(
                "/openai/deployments/{deployment}/images/generations",
                image_generations,
                methods=["POST"],
            ),
            Route("/v1/images/edits", image_edits, methods=["POST"]),
            Route("/v1/moderations", moderations, methods=["POST"]),
            Route("/v1/models", models),
        ]
    )
    app.state.hits = Counter()
    app.state.closed_at = {}
    app.state.bodies = {}
    app.state.open_calls = Counter()  # `slow` calls (not streamed) still waiting for the client
    return app


@contextmanager
def running_fault_upstream(app: Starlette | None = None) -> Iterator[str]:
    """Serve the fault upstream on loopback; yields its /v1 base URL."""
    with serving(app or create_fault_upstream()) as base_url:
        yield f"{base_url}/v1"
