"""An OpenAI-compatible provider in this process (`MockTransport`), for tests of the platform's
own logic: the platform reaches it through its production path (clients, failover, counting).

`EchoUpstream` answers with every message of the prompt it was given, after a header naming
the model and the sampling parameters it was called with; cut to `max_tokens` words, as a real
model cuts its answer. Like llama.cpp's server, it reports usage (a token per word) on whole
answers and none on streams. `delay` makes each answer take that long (concurrency tests).
`replies` makes it answer those texts in turn instead (the last one again once they run out).
Every request body it was sent is kept, in order, in `bodies`. `hold()` makes the calls that
arrive wait until `release()`, and `arrived(n)` waits until n calls are held: a test sees the
platform with calls in flight, with no sleeping and no race.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from app.providers import MockResponse, MockTransport, UpstreamRequest
from app.services import Services, build_services
from app.settings import ModelSpec, Settings

#: LangChain's names for the roles: the echo reads as the chains' prompts do.
_TYPES = {"user": "human", "assistant": "ai"}
BASE_URL = "http://echo.test/v1"


def echo_model(model: str) -> ModelSpec:
    """An alias whose one deployment is the echo upstream's `model`."""
    return ModelSpec(provider="openai-compatible", model=model, base_url=BASE_URL)


def echoed(settings: Settings) -> Settings:
    """`settings` with every chat alias answered by the echo upstream, as a model named like
    the alias; its prices and other fields kept. The embedded embedder stays: it is in
    process already."""
    models = {
        alias: spec
        if spec.provider == "local-embed"
        else spec.model_copy(update={"deployments": [echo_model(alias).primary]})
        for alias, spec in settings.models.items()
    }
    return settings.model_copy(update={"models": models})


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


def prompt_words(messages: list[dict[str, Any]]) -> int:
    return sum(len(_content(message).split()) for message in messages)


class EchoUpstream:
    def __init__(self, delay: float = 0.0, replies: list[str] | None = None) -> None:
        self.delay = delay
        self.replies = replies
        self.bodies: list[dict[str, Any]] = []
        self.transport = MockTransport(self.handle)
        self._open = asyncio.Event()
        self._open.set()
        self._held = 0
        self._arrivals = asyncio.Condition()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def arrived(self, calls: int) -> None:
        """Until `calls` calls are held (`hold`)."""
        async with self._arrivals:
            await self._arrivals.wait_for(lambda: self._held >= calls)

    async def _wait_if_held(self) -> None:
        if self._open.is_set():
            return
        async with self._arrivals:
            self._held += 1
            self._arrivals.notify_all()
        try:
            await self._open.wait()
        finally:
            self._held -= 1

    @property
    def prompts(self) -> list[list[dict[str, Any]]]:
        """The messages of every chat call, in order."""
        return [body["messages"] for body in self.bodies if "messages" in body]

    def _words(self, body: dict[str, Any]) -> list[str]:
        if self.replies is not None:
            return self.replies[min(len(self.prompts), len(self.replies)) - 1].split(" ")
        messages = body.get("messages") or [{"role": "user", "content": body.get("prompt", "")}]
        header = (
            f"[{body.get('model')} temperature={body.get('temperature')} "
            f"max_tokens={body.get('max_tokens')}]"
        )
        text = "\n".join(
            f"{_TYPES.get(message['role'], message['role'])}: {_content(message)}"
            for message in messages
        )
        words = [header, *text.split(" ")]
        return words[: body.get("max_tokens") or len(words)]

    async def handle(self, request: UpstreamRequest) -> MockResponse:
        if request.method == "GET":
            return MockResponse(json={"object": "list", "data": [{"id": "echo"}]})
        body = request.json()
        self.bodies.append(body)
        await self._wait_if_held()
        chat = request.url.split("?")[0].endswith("/chat/completions")
        words = self._words(body)
        if body.get("stream"):
            return MockResponse(lines=self._stream(body["model"], chat, words))
        await asyncio.sleep(self.delay)
        text = " ".join(words)
        choice = (
            {"index": 0, "message": {"role": "assistant", "content": text}} if chat
            else {"index": 0, "text": text}
        )  # fmt: skip
        prompt = prompt_words(body.get("messages") or [{"content": body.get("prompt", "")}])
        usage = {"prompt_tokens": prompt, "completion_tokens": len(text.split())}
        return MockResponse(json={
            "id": "echo", "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{**choice, "finish_reason": "stop"}],
            "usage": {**usage, "total_tokens": sum(usage.values())},
        })  # fmt: skip

    async def _stream(self, model: str, chat: bool, words: list[str]) -> AsyncIterator[bytes]:
        for index, word in enumerate(words):
            await asyncio.sleep(self.delay / 10)
            piece = word + (" " if index < len(words) - 1 else "")
            yield _event(model, chat, piece, None)
        yield _event(model, chat, None, "stop")
        yield b"data: [DONE]\n\n"


def _event(model: str, chat: bool, text: str | None, finish: str | None) -> bytes:
    if chat:
        choice = {"index": 0, "delta": {"content": text} if text is not None else {}}
    else:
        choice = {"index": 0, "text": text or ""}
    chunk = {
        "id": "echo", "object": "chat.completion.chunk" if chat else "text_completion",
        "created": int(time.time()), "model": model,
        "choices": [{**choice, "finish_reason": finish}],
    }  # fmt: skip
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def echo_services(settings: Settings, upstream: EchoUpstream | None = None) -> Services:
    """The platform's services with every alias answered by `upstream` (a new one if none)."""
    return build_services(echoed(settings), (upstream or EchoUpstream()).transport)
