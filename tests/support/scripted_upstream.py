"""An OpenAI-compatible provider in this process whose every answer a test scripts: per
deployment (by the model name its calls carry), what each call gets in turn, the last step
again once the script runs out. What each call was sent is kept, in order, on the script
itself: nothing is shared between tests, and no model name chooses a behaviour.

    script = Script(primary=[status(503), answer("Hello")], backup=[stream("Hel", "lo")])
    HttpPool(transport=script.transport)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

import aiohttp
import orjson

from app.providers import MockResponse, MockTransport, UpstreamRequest
from app.providers.continuation import CONTINUE_INSTRUCTION

Step = Callable[[dict[str, Any]], Awaitable[MockResponse]]


class Script:
    def __init__(self, **steps: list[Step]) -> None:
        self._steps = steps
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (model, body), in order
        self.transport = MockTransport(self._handle)
        self._arrivals = asyncio.Condition()

    async def called(self, calls: int) -> None:
        """Until `calls` calls in all have arrived."""
        async with self._arrivals:
            await self._arrivals.wait_for(lambda: len(self.calls) >= calls)

    def sent_to(self, model: str) -> list[dict[str, Any]]:
        """The bodies `model` was sent, in order."""
        return [body for name, body in self.calls if name == model]

    async def _handle(self, request: UpstreamRequest) -> MockResponse:
        body = request.json()
        model = body["model"]
        steps = self._steps[model]
        step = steps[min(len(self.sent_to(model)), len(steps) - 1)]
        async with self._arrivals:
            self.calls.append((model, body))
            self._arrivals.notify_all()
        return await step(body)


def answer(text: str, prompt_tokens: int = 3, after: float = 0.0) -> Step:
    """A chat answer, whole with its usage (a token per word), or streamed in one piece as
    asked; `after` seconds late."""

    async def step(body: dict[str, Any]) -> MockResponse:
        await asyncio.sleep(after)
        if body.get("stream"):
            return MockResponse(lines=_events(body["model"], (text,), "done"))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split())}
        return MockResponse(json={
            "id": "scripted", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {**usage, "total_tokens": sum(usage.values())},
        })  # fmt: skip

    return step


def status(code: int, **headers: str) -> Step:
    """An error status, in OpenAI's error shape."""

    async def step(body: dict[str, Any]) -> MockResponse:
        error = {"error": {"message": f"scripted {code}", "type": "scripted"}}
        return MockResponse(code, json=error, headers=headers)

    return step


class Late:
    """An answer that starts at once (a streamed one with its role chunk) and comes `seconds`
    later; when the platform gave up on it first (it closed the call), `closed_at` says when
    (time.monotonic)."""

    def __init__(self, text: str, seconds: float) -> None:
        self.text, self.seconds = text, seconds
        self.closed_at: float | None = None

    async def __call__(self, body: dict[str, Any]) -> MockResponse:
        if body.get("stream"):
            return MockResponse(lines=self._events(body["model"]))
        await self._wait()
        return await answer(self.text)(body)

    async def _wait(self) -> None:
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.closed_at = time.monotonic()
            raise

    async def _events(self, model: str) -> AsyncIterator[bytes]:
        yield _chunk(model, {"role": "assistant", "content": ""}, None)
        await self._wait()
        async for event in _events(model, (self.text,), "done"):
            yield event


def silent() -> Step:
    """No answer at all: the platform's deadline ends the call."""

    async def step(body: dict[str, Any]) -> MockResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return step


#: How a scripted stream ends after its pieces: whole (a finish, then [DONE]), its connection
#: dropped, ended with neither finish nor [DONE], or a chunk that is no JSON object.
Ending = Literal["done", "cut", "unfinished", "malformed"]


def stream(*pieces: str, end: Ending = "done") -> Step:
    """A streamed chat answer in `pieces`, ended as `end` says."""

    async def step(body: dict[str, Any]) -> MockResponse:
        return MockResponse(lines=_events(body["model"], pieces, end))

    return step


def rest_of(text: str) -> Step:
    """`text` in words, streamed or whole as asked; asked to continue a partial answer (the
    platform's continuation: the partial as the assistant's prefix, or followed by its
    instruction), only the words after it."""

    async def step(body: dict[str, Any]) -> MockResponse:
        already = _partial(body["messages"])
        words = [word + " " for word in text.split(" ")]
        words[-1] = words[-1].rstrip()
        while words and already.startswith(words[0]):
            already = already[len(words[0]) :]
            words.pop(0)
        if body.get("stream"):
            return MockResponse(lines=_events(body["model"], tuple(words), "done"))
        return await answer("".join(words))(body)

    return step


def _partial(messages: list[dict[str, Any]]) -> str:
    last = messages[-1]
    if last["role"] == "assistant" and last.get("prefix"):
        return last["content"]
    if last == {"role": "user", "content": CONTINUE_INSTRUCTION}:
        return messages[-2]["content"]
    return ""


async def _events(model: str, pieces: tuple[str, ...], end: Ending) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield _chunk(model, {"content": piece}, None)
    if end == "cut":
        raise aiohttp.ClientPayloadError("scripted: the connection dropped")
    if end == "malformed":
        yield b"data: [1]\n\n"
        return
    if end == "done":
        yield _chunk(model, {}, "stop")
        yield b"data: [DONE]\n\n"


def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    chunk = {
        "id": "scripted", "object": "chat.completion.chunk", "created": 0, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
