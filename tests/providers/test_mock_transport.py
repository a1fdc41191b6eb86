"""The in-process transport: a client sends through it as through aiohttp, and what the handler
answers takes the client's production path (status mapping, parsing, read timeouts, cut
streams), with no socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from app.errors import PlatformError
from app.providers.calls import UpstreamCall
from app.providers.clients import CompatibleClient, encoded
from app.providers.failures import Failure
from app.providers.http import HttpPool
from app.providers.mock_transport import MockResponse, MockTransport, UpstreamRequest
from app.settings import Deployment

BODY = {"messages": [{"role": "user", "content": "Hi"}]}
ANSWER = {
    "id": "a", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}  # fmt: skip


def chunk(text: str, finish: str | None = None) -> bytes:
    delta = f'{{"content": "{text}"}}' if text else "{}"
    finish_reason = f'"{finish}"' if finish else "null"
    return (f'data: {{"id": "a", "object": "chat.completion.chunk", "created": 0, "model": "m", '
            f'"choices": [{{"index": 0, "delta": {delta}, "finish_reason": {finish_reason}}}]}}'
            "\n\n").encode()  # fmt: skip


def client(handler, timeout: float = 5.0) -> CompatibleClient:  # type: ignore[no-untyped-def]
    deployment = Deployment(
        provider="openai-compatible", model="m", base_url="http://mock/v1", timeout=timeout
    )
    return CompatibleClient(
        deployment, HttpPool(transport=MockTransport(handler)), "http://mock/v1"
    )


async def send(target: CompatibleClient, stream: bool = False):  # type: ignore[no-untyped-def]
    payload = target.payload({**BODY, "stream": stream, "max_completion_tokens": 5})
    call = UpstreamCall("a", "m", False, [("user", "Hi")])
    return await target.send("chat/completions", payload, encoded(payload), stream, call), call


async def test_the_handler_sees_the_request_as_the_provider_would():
    seen: list[UpstreamRequest] = []

    async def handler(request: UpstreamRequest) -> MockResponse:
        seen.append(request)
        return MockResponse(json=ANSWER)

    answer, call = await send(client(handler))
    [request] = seen
    assert (request.method, request.url) == ("POST", "http://mock/v1/chat/completions")
    assert request.json()["max_tokens"] == 5 and request.json()["model"] == "m"
    assert answer.data["choices"][0]["message"]["content"] == "Hello"
    assert (call.usage.input_tokens, call.usage.output_tokens) == (1, 1)


async def test_an_error_status_is_the_failure_the_provider_would_give():
    async def handler(request: UpstreamRequest) -> MockResponse:
        return MockResponse(429, json={"error": {"message": "slow down"}},
                            headers={"Retry-After": "7"})  # fmt: skip

    with pytest.raises(Failure) as failed:
        await send(client(handler))
    assert failed.value.error.code == "provider_rate_limited"
    assert failed.value.retryable and failed.value.retry_after == 7


async def test_no_answer_within_the_read_timeout_is_a_timeout():
    async def handler(request: UpstreamRequest) -> MockResponse:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    with pytest.raises(Failure) as failed:
        await send(client(handler, timeout=0.05))
    assert failed.value.error.code == "provider_timeout"


async def test_a_stream_is_read_line_by_line_and_a_drop_mid_answer_is_a_cut():
    async def lines() -> AsyncIterator[bytes]:
        yield chunk("Hel")
        yield chunk("lo")
        raise aiohttp.ClientPayloadError("connection dropped")

    async def handler(request: UpstreamRequest) -> MockResponse:
        return MockResponse(lines=lines())

    events, call = await send(client(handler), stream=True)
    received = []
    with pytest.raises(PlatformError) as failed:
        async for event in events:
            received.append(event["choices"][0]["delta"]["content"])
    assert received == ["Hel", "lo"] and failed.value.code == "provider_cut"
    assert "".join(call.output) == "Hello", "what came before the cut is on the call"


async def test_a_stream_silent_past_the_read_timeout_is_a_timeout_mid_answer():
    async def lines() -> AsyncIterator[bytes]:
        yield chunk("Hel")
        await asyncio.sleep(3600)
        yield chunk("", "stop")

    async def handler(request: UpstreamRequest) -> MockResponse:
        return MockResponse(lines=lines())

    events, _ = await send(client(handler, timeout=0.05), stream=True)
    with pytest.raises(PlatformError) as failed:
        async for _event in events:
            pass
    assert failed.value.code == "provider_timeout"
