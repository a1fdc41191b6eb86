"""The answer cache's streams, and identical requests in flight: a streamed hit is a stream the
SDK reads, a cut stream is never kept, and identical requests at once make one upstream call
that each gets, however many leave (the platform: tests/support/answer_cache.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.support.answer_cache import ANSWER, CHAT, cache_platform, calls, question, rows
from tests.support.servers import serving
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    return cache_platform(make_settings, upstream)


@pytest.fixture
def keys(platform: Platform) -> dict[str, str]:
    return {"acme": platform.key("acme"), "rival": platform.key("rival")}


@pytest.fixture
def url(platform: Platform) -> Iterator[str]:
    with serving(platform.app) as base_url:
        yield base_url


async def test_a_streamed_hit_is_a_stream_the_openai_sdk_reads(platform, keys, url, upstream_app):
    sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=keys["acme"], max_retries=0)
    before = calls(upstream_app)
    answers, statuses = [], []
    for _ in range(2):
        response = await sdk.chat.completions.with_raw_response.create(
            **question(), stream=True, stream_options={"include_usage": True}
        )
        statuses.append(response.headers["cache-status"])
        chunks = [chunk async for chunk in response.parse()]
        answers.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert statuses == ["genai; fwd=miss", "genai; hit"]
    assert answers == [ANSWER, ANSWER]
    assert calls(upstream_app) == before + 1
    assert [row["cache"] for row in rows(platform)] == ["miss", "hit"]


async def test_a_streamed_hit_ends_with_done_in_chat_completions_frames(platform, keys):
    async with platform.client(keys["acme"]) as client:
        for _ in range(2):
            async with client.stream("POST", CHAT, json=question(stream=True)) as response:
                events = [event.data async for event in aiter_events(response)]
    assert response.headers["cache-status"] == "genai; hit"
    assert events[-1] == "[DONE]" and len(events) > 3


async def test_a_cut_stream_leaves_nothing_cached(platform, keys, upstream_app):
    body = question(model="drop", stream=True)
    before = calls(upstream_app, "drop")
    async with platform.client(keys["acme"]) as client:
        for _ in range(2):
            async with client.stream("POST", CHAT, json=body) as response:
                events = [event async for event in aiter_events(response)]
            assert events[-1].data != "[DONE]"  # ended with the failure, not the end
    assert calls(upstream_app, "drop") == before + 2
    assert [row["cache"] for row in rows(platform)] == ["miss", "miss"]


async def test_twenty_identical_requests_at_once_make_one_upstream_call(
    platform, keys, upstream_app
):
    before = calls(upstream_app, "brief")
    async with platform.client(keys["acme"]) as client:
        answers = await asyncio.gather(
            *(client.post(CHAT, json=question(model="brief")) for _ in range(20))
        )
    assert [a.status_code for a in answers] == [200] * 20
    assert {a.json()["choices"][0]["message"]["content"] for a in answers} == {ANSWER}
    assert calls(upstream_app, "brief") == before + 1
    ledger = rows(platform)
    [paid] = [row for row in ledger if row["cache"] == "miss"]
    followers = [row for row in ledger if row["cache"] == "coalesced"]
    assert len(followers) == 19
    assert {row["paid_by"] for row in followers} == {paid["request_id"]}
    assert {a.headers["cache-status"] for a in answers} == {
        "genai; fwd=miss; stored",
        "genai; fwd=miss; collapsed",
    }


async def test_twenty_identical_streams_at_once_share_one_streamed_answer(
    platform, keys, upstream_app
):
    before = calls(upstream_app, "brief")

    async def streamed(client: httpx.AsyncClient) -> str:
        text = ""
        async with client.stream("POST", CHAT, json=question(model="brief", stream=True)) as r:
            async for event in aiter_events(r):
                if event.data != "[DONE]":
                    for choice in json.loads(event.data)["choices"]:
                        text += choice["delta"].get("content") or ""
        return text

    async with platform.client(keys["acme"]) as client:
        texts = await asyncio.gather(*(streamed(client) for _ in range(20)))
    assert texts == [ANSWER] * 20
    assert calls(upstream_app, "brief") == before + 1
    caches = sorted(row["cache"] for row in rows(platform))
    assert caches == ["coalesced"] * 19 + ["miss"]
    assert all(row["output_tokens"] > 0 for row in rows(platform))


async def test_a_waiter_that_leaves_does_not_cancel_the_others(platform, keys, url, upstream_app):
    """The first of two identical streams leaves after its first chunk; the other still gets
    the whole answer, from the one upstream call, which the leaver's row pays for in full."""
    body = question(model="paced", stream=True)
    before = calls(upstream_app, "paced")
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {keys['acme']}"},
                                 timeout=30) as client:  # fmt: skip
        joined = asyncio.Event()

        async def leaves() -> None:
            async with client.stream("POST", CHAT, json=body) as response:
                async for _ in aiter_events(response):
                    await joined.wait()  # the other is reading the same answer
                    break

        async def stays() -> list[str]:
            await asyncio.sleep(0.2)
            events = []
            async with client.stream("POST", CHAT, json=body) as response:
                async for event in aiter_events(response):
                    joined.set()
                    events.append(event.data)
            return events

        _, events = await asyncio.gather(leaves(), stays())
    assert events[-1] == "[DONE]"
    assert calls(upstream_app, "paced") == before + 1
    for _ in range(100):
        if len(rows(platform)) == 2:
            break
        await asyncio.sleep(0.05)
    by_cache = {row["cache"]: row for row in rows(platform)}
    assert by_cache["coalesced"]["status"] == 200
    assert by_cache["miss"]["output_tokens"] == by_cache["coalesced"]["output_tokens"]
