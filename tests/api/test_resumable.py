"""Resumable streams: a client that loses its connection reconnects with `Last-Event-ID` and gets
exactly the events it missed, then the live rest; the answer went on meanwhile, and the ledger
holds one row for it. Each test runs with the events kept in this process and in Redis.

The answer is our fault upstream's `paced` one: 20 chunks ("tick "), 100 ms apart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from langserve import RemoteRunnable
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.servers import serving
from tests.support.sse import Event, aiter_events
from tests.support.tenancy import Platform

MESSAGES = [{"role": "user", "content": "Hi"}]
TICKS = "tick " * 20


@pytest.fixture(params=["in-process", "redis"])
def make_platform(request, make_settings, upstream, upstream_app: Starlette):
    upstream_app.state.closed_at.clear()
    shared = (
        {"redis_url": redis_or_skip(), "redis_prefix": fresh_prefix()}
        if request.param == "redis"
        else {}
    )

    def alias(model: str) -> ModelSpec:
        return ModelSpec(provider="openai-compatible", model=model, base_url=upstream,
                         max_retries=0, output_price_per_million=1.0)  # fmt: skip

    def make(**overrides: object) -> Platform:
        models = {name: alias(name) for name in ("paced", "slow", "ok", "late")}
        settings = make_settings(auth_enabled=True, models=models, default_model="paced",
                                 **shared, **overrides)  # fmt: skip
        platform = Platform(create_app(settings))
        for tenant in ("acme", "rival"):
            platform.tenant(tenant)
        return platform

    return make


@pytest.fixture
def platform(make_platform) -> Platform:
    return make_platform()


@pytest.fixture
def url(platform: Platform) -> Iterator[str]:
    with serving(platform.app) as base_url:
        yield base_url


def client_of(platform: Platform, url: str, tenant: str = "acme") -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {platform.key(tenant)}"}
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=30)


async def first_events(client: httpx.AsyncClient, path: str, body: dict, count: int) -> list[Event]:
    """The first `count` events of a stream, then the client leaves."""
    got: list[Event] = []
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, await response.aread()
        async for event in aiter_events(response):
            got.append(event)
            if len(got) == count:
                break
    return got


async def resumed(client: httpx.AsyncClient, path: str, last_event_id: str) -> list[Event]:
    async with client.stream("GET", path, headers={"Last-Event-ID": last_event_id}) as response:
        assert response.status_code == 200, await response.aread()
        return [event async for event in aiter_events(response)]


def chunk_text(events: list[Event]) -> str:
    text = ""
    for event in events:
        if event.data != "[DONE]":
            for choice in json.loads(event.data).get("choices", []):
                text += choice["delta"].get("content") or ""
    return text


async def settled_rows(client: httpx.AsyncClient, count: int = 1) -> list[dict]:
    """The ledger, once it holds `count` rows (an answer going on writes its row at its end)."""
    for _ in range(100):
        rows = (await client.get("/usage")).json()["records"]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError("no ledger row was written")


V1_BODY = {"model": "paced", "messages": MESSAGES, "stream": True,
           "stream_options": {"resumable": True}}  # fmt: skip


async def test_a_v1_stream_resumes_after_a_disconnect_with_exactly_the_missed_events(platform, url):
    async with client_of(platform, url) as client:
        before = await first_events(client, "/v1/chat/completions", V1_BODY, 5)
        completion_id = before[0].json()["id"]
        assert [event.id for event in before] == ["1", "2", "3", "4", "5"]
        await asyncio.sleep(0.5)  # the answer goes on while nobody listens
        after = await resumed(client, f"/v1/chat/completions/{completion_id}/stream", "5")
        [row] = await settled_rows(client)
    ids = [int(event.id) for event in before + after]
    assert ids == list(range(1, len(ids) + 1)), "every event exactly once, in order"
    assert after[-1].data == "[DONE]"
    assert chunk_text(before + after) == TICKS
    assert (row["status"], row["interrupted"]) == (200, False)
    assert row["output_tokens"] == len(TICKS) // 4, "the whole answer (4 characters a token)"


async def test_only_the_tenant_that_started_a_stream_may_resume_it(platform, url):
    async with client_of(platform, url) as client, client_of(platform, url, "rival") as rival:
        before = await first_events(client, "/v1/chat/completions", V1_BODY, 2)
        completion_id = before[0].json()["id"]
        theirs = await rival.get(f"/v1/chat/completions/{completion_id}/stream")
        other_route = await client.get(f"/v1/completions/{completion_id}/stream")
        unknown = await client.get("/v1/chat/completions/chatcmpl-nothing/stream")
        bad = await client.get(
            f"/v1/chat/completions/{completion_id}/stream", headers={"Last-Event-ID": "x1"}
        )
        long = await client.get(  # past 64 characters: still the dialect's 400, not a 422
            f"/v1/chat/completions/{completion_id}/stream", headers={"Last-Event-ID": "9" * 100}
        )
        await settled_rows(client)
    for response in (theirs, other_route, unknown):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "stream_not_found"
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "Last-Event-ID"
    assert long.status_code == 400 and long.json()["error"]["param"] == "Last-Event-ID"


async def test_a_chain_stream_resumes_with_its_run_id(platform, url):
    body = {"input": {"text": "Once"},
            "config": {"configurable": {"model": "paced", "resumable": True}}}  # fmt: skip
    async with client_of(platform, url) as client:
        before = await first_events(client, "/complete/stream", body, 4)
        assert before[0].event == "metadata"
        run_id = before[0].json()["run_id"]
        after = await resumed(client, f"/complete/stream/{run_id}", before[-1].id)
        [row] = await settled_rows(client)
    events = before + after
    assert [event.event for event in events][-1] == "end"
    assert "".join(event.json() for event in events if event.event == "data") == TICKS
    assert [int(event.id) for event in events] == list(range(1, len(events) + 1))
    assert (row["status"], row["interrupted"]) == (200, False)


async def test_a_resumable_stream_asked_to_stop_with_its_client_closes_the_upstream(
    platform, url, upstream_app
):
    body = {**V1_BODY, "model": "slow",
            "stream_options": {"resumable": True, "on_disconnect": "cancel"}}  # fmt: skip
    async with client_of(platform, url) as client:
        await first_events(client, "/v1/chat/completions", body, 3)
        left = asyncio.get_running_loop().time()
        [row] = await settled_rows(client)
    closed = upstream_app.state.closed_at["slow"]
    assert closed - left < 0.5, "the upstream request ended with the client"
    assert (row["status"], row["interrupted"]) == (499, True)


async def test_an_answer_may_go_on_after_its_client_leaves_without_being_resumable(platform, url):
    body = {**V1_BODY, "stream_options": {"on_disconnect": "continue"}}
    async with client_of(platform, url) as client:
        before = await first_events(client, "/v1/chat/completions", body, 3)
        assert before[0].id is None, "not resumable: no event ids"
        completion_id = before[0].json()["id"]
        [row] = await settled_rows(client)
        missing = await client.get(f"/v1/chat/completions/{completion_id}/stream")
    assert (row["status"], row["interrupted"]) == (200, False)
    assert row["output_tokens"] == len(TICKS) // 4, "billed for the whole answer it asked for"
    assert missing.status_code == 404


async def test_the_openai_sdk_reads_a_resumable_stream_unaware(platform, url):
    sdk = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=platform.key("acme"))
    stream = await sdk.chat.completions.create(
        model="ok", messages=MESSAGES, stream=True,
        stream_options={"include_usage": True, "resumable": True},  # type: ignore[typeddict-unknown-key]
    )  # fmt: skip
    chunks = [chunk async for chunk in stream]
    await sdk.close()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "fault upstream says hello"
    )
    assert chunks[-1].usage is not None


async def test_remote_runnable_reads_a_resumable_chain_stream_unaware(platform, url):
    complete = RemoteRunnable(
        f"{url}/complete", headers={"Authorization": f"Bearer {platform.key('acme')}"}
    )
    config = {"configurable": {"model": "paced", "resumable": True}}
    chunks = [chunk async for chunk in complete.astream({"text": "Once"}, config=config)]
    assert "".join(chunks) == TICKS


@pytest.mark.parametrize(
    "configurable", [{"resumable": "yes"}, {"resumable": True, "on_disconnect": "later"}]
)
async def test_bad_stream_options_of_a_chain_are_refused_naming_the_field(
    platform, url, configurable
):
    body = {"input": {"text": "Once"}, "config": {"configurable": configurable}}
    async with client_of(platform, url) as client:
        response = await client.post("/complete/stream", json=body)
        rows = (await client.get("/usage")).json()["records"]
    assert response.status_code == 422
    assert response.json()["error"]["param"].startswith("config.configurable.")
    assert rows == [], "refused before admission: nothing ran, nothing billed"


async def test_a_live_stream_silent_longer_than_its_retention_is_kept(make_platform):
    """`late` is silent for 2 s after the stream starts (keep-alives only), twice the 1 s
    retention; meanwhile another stream opens (the in-process log forgets expired streams
    then). The stream is still there: its first event arrives, and it resumes after it."""
    platform = make_platform(stream_retention_seconds=1.0, stream_keepalive_seconds=0.2)
    body = {**V1_BODY, "model": "late"}
    with serving(platform.app) as url:
        async with client_of(platform, url) as client, asyncio.timeout(10):
            reading = asyncio.ensure_future(first_events(client, "/v1/chat/completions", body, 1))
            await asyncio.sleep(1.5)  # past the retention, in the silence
            other = await first_events(client, "/v1/chat/completions", V1_BODY, 1)
            [first] = await reading
            completion_id = first.json()["id"]
            after = await resumed(client, f"/v1/chat/completions/{completion_id}/stream", "1")
            rows = await settled_rows(client, 2)
    assert other and after[-1].data == "[DONE]"
    assert chunk_text([first, *after]) == "fault upstream says hello"
    assert sorted(row["status"] for row in rows) == [200, 200]
