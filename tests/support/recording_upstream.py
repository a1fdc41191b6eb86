"""An OpenAI-compatible upstream that keeps every body it receives and answers as each test
scripts it, run on a loopback port.

A test sets what it answers on the `Script` it is given: `answer` (by default the last user
message's text, echoed), the `pieces` a stream splits it into (by default 4 alike), and
`tool_arguments` to answer with a call of the tool `tool_name` instead, until the conversation
holds a tool's result (then it answers). `received` holds each body, in order.
/v1/moderations flags each input holding one of the script's `flagged` words (category
`harassment`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.servers import serving


@dataclass
class Script:
    answer: str | None = None
    pieces: list[str] | None = None
    tool_arguments: str | None = None
    tool_name: str = "lookup"
    flagged: tuple[str, ...] = ("FLAGME",)
    received: list[dict[str, Any]] = field(default_factory=list)

    def text_for(self, body: dict[str, Any]) -> str:
        if self.answer is not None:
            return self.answer
        if isinstance(body.get("prompt"), str):
            return body["prompt"]
        users = [m for m in body.get("messages", []) if m.get("role") == "user"]
        content = users[-1]["content"] if users else ""
        return content if isinstance(content, str) else " ".join(p["text"] for p in content)

    def split(self, text: str) -> list[str]:
        if self.pieces is not None:
            return self.pieces
        size = max(1, -(-len(text) // 4))
        return [text[at : at + size] for at in range(0, len(text), size)] or [""]

    def calls_tool(self, body: dict[str, Any]) -> bool:
        answered = any(m.get("role") == "tool" for m in body.get("messages", []))
        return self.tool_arguments is not None and not answered

    def reset(self) -> None:
        self.answer = self.pieces = self.tool_arguments = None
        self.tool_name = "lookup"
        self.received.clear()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    data = {"id": "c", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return f"data: {json.dumps(data)}\n\n".encode()


def _usage(text: str) -> dict[str, int]:
    return {"prompt_tokens": 5, "completion_tokens": len(text.split()) or 1,
            "total_tokens": 5 + (len(text.split()) or 1)}  # fmt: skip


async def _chat(request: Request) -> Response:
    script: Script = request.app.state.script
    body = await request.json()
    script.received.append(body)
    text = script.text_for(body)
    if body.get("stream"):
        tool = script.calls_tool(body)
        return StreamingResponse(_stream(script, text, tool), media_type="text/event-stream")
    message: dict[str, Any] = {"role": "assistant", "content": text}
    finish = "stop"
    if script.calls_tool(body):
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": script.tool_name, "arguments": script.tool_arguments},
        }]}  # fmt: skip
        finish = "tool_calls"
    return JSONResponse({
        "id": "c", "object": "chat.completion", "model": body.get("model", "m"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(text),
    })  # fmt: skip


async def _stream(script: Script, text: str, tool: bool) -> AsyncIterator[bytes]:
    yield _chunk({"role": "assistant", "content": ""})
    if tool and script.tool_arguments is not None:
        call = {"index": 0, "id": "call_1", "type": "function",
                "function": {"name": script.tool_name, "arguments": ""}}  # fmt: skip
        yield _chunk({"tool_calls": [call]})
        for piece in script.split(script.tool_arguments):
            yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield _chunk({}, "tool_calls")
    else:
        for piece in script.split(text):
            yield _chunk({"content": piece})
        yield _chunk({}, "stop")
    yield b"data: [DONE]\n\n"


async def _completions(request: Request) -> Response:
    script: Script = request.app.state.script
    body = await request.json()
    script.received.append(body)
    text = script.text_for(body)
    return JSONResponse({"id": "c", "object": "text_completion", "model": "m",
                         "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                         "usage": _usage(text)})  # fmt: skip


async def _moderations(request: Request) -> Response:
    script: Script = request.app.state.script
    body = await request.json()
    script.received.append(body)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    results = []
    for text in inputs:
        hit = any(word in str(text) for word in script.flagged)
        results.append({"flagged": hit, "categories": {"harassment": hit, "violence": False},
                        "category_scores": {"harassment": 0.9 if hit else 0.01,
                                            "violence": 0.0}})  # fmt: skip
    return JSONResponse({"id": "modr-1", "model": "omni-moderation", "results": results})


async def _embeddings(request: Request) -> Response:
    script: Script = request.app.state.script
    body = await request.json()
    script.received.append(body)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    return JSONResponse({
        "object": "list", "model": "m",
        "data": [{"object": "embedding", "index": n, "embedding": [0.1, 0.2]}
                 for n in range(len(inputs))],
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    })  # fmt: skip


@contextmanager
def recording_upstream() -> Iterator[tuple[str, Script]]:
    """Its /v1 base URL and the script it answers by."""
    app = Starlette(routes=[
        Route("/v1/chat/completions", _chat, methods=["POST"]),
        Route("/v1/completions", _completions, methods=["POST"]),
        Route("/v1/embeddings", _embeddings, methods=["POST"]),
        Route("/v1/moderations", _moderations, methods=["POST"]),
    ])  # fmt: skip
    app.state.script = Script()
    with serving(app) as base_url:
        yield f"{base_url}/v1", app.state.script
