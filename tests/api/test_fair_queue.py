"""A deployment with a capacity serves tenants in turn: one tenant's burst cannot hold another
back, a tenant's queue is bounded, and so is the wait."""

from __future__ import annotations

import asyncio
import time

import httpx

from app.main import create_app
from app.providers.fair_queue import FairQueue, Waiter
from app.services import build_services
from app.settings import ModelSpec
from tests.support.scripted_upstream import Script, answer
from tests.support.tenancy import Platform


def busy_model(**queue: float) -> ModelSpec:
    """A model that takes one call at a time (as the embedded model: 1)."""
    return ModelSpec(provider="openai-compatible", model="busy", base_url="http://scripted/v1",
                     max_concurrent=1, **queue)  # fmt: skip


def script() -> Script:
    """The busy model's answers: each in 0.3 s."""
    return Script(busy=[answer("Hello there.", after=0.3)])


def platform_with(
    make_settings, model: ModelSpec, upstream: Script, **settings: object
) -> Platform:
    settings = make_settings(
        auth_enabled=True, models={"busy": model}, default_model="busy", **settings
    )
    platform = Platform(create_app(services=build_services(settings, upstream.transport)))
    for tenant in ("flood", "polite"):
        platform.tenant(tenant)
    return platform


async def finish_time(client: httpx.AsyncClient, path: str = "/generate/invoke") -> float:
    response = await client.post(path, json={"input": {"prompt": "Hi"}})
    assert response.status_code == 200, response.text
    return time.monotonic()


async def test_a_tenants_burst_waits_behind_another_tenants_call(make_settings):
    upstream = script()
    platform = platform_with(make_settings, busy_model(), upstream)
    async with (
        platform.client(platform.key("flood")) as flood,
        platform.client(platform.key("polite")) as polite,
    ):
        burst = [asyncio.ensure_future(finish_time(flood)) for _ in range(5)]
        await upstream.called(1)  # one runs, four queue: then the other
        await asyncio.sleep(0.05)  # tenant asks, once
        polite_done = await finish_time(polite)
        flood_done = sorted(await asyncio.gather(*burst))
    # In arrival order the polite call would come sixth; in turns it comes second.
    assert flood_done[0] < polite_done < flood_done[1]


async def test_a_tenants_queue_is_bounded_with_a_clear_429(make_settings):
    platform = platform_with(make_settings, busy_model(queue_per_tenant=2), script())
    async with platform.client(platform.key("flood")) as flood:
        body = {"input": {"prompt": "Hi"}}
        responses = await asyncio.gather(*[flood.post("/generate/invoke", json=body)
                                           for _ in range(5)])  # fmt: skip
        async with platform.client(platform.key("polite")) as polite:
            assert (await polite.post("/generate/invoke", json=body)).status_code == 200
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 200, 429, 429]  # one running, two waiting, two refused
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "queue_full"
    assert refused.headers["retry-after"] == "1"


async def test_a_wait_past_the_queue_timeout_is_a_clear_503(make_settings):
    upstream = script()
    platform = platform_with(make_settings, busy_model(queue_timeout=0.1), upstream)
    async with platform.client(platform.key("flood")) as flood:
        body = {"input": {"prompt": "Hi"}}
        first = asyncio.ensure_future(flood.post("/generate/invoke", json=body))
        await upstream.called(1)
        second = await flood.post("/v1/chat/completions", json={
            "model": "busy", "messages": [{"role": "user", "content": "Hi"}]})  # fmt: skip
        assert (await first).status_code == 200
        [row] = [r for r in (await flood.get("/usage")).json()["records"] if r["status"] != 200]
    assert second.status_code == 503 and second.json()["error"]["code"] == "model_busy"
    assert int(second.headers["retry-after"]) >= 1
    assert (row["route"], row["status"]) == ("v1/chat/completions", 503)


async def test_a_client_leaving_its_place_in_the_queue_frees_it(make_settings):
    upstream = script()
    platform = platform_with(make_settings, busy_model(queue_per_tenant=1), upstream)
    async with platform.client(platform.key("flood")) as flood:
        body = {"input": {"prompt": "Hi"}}
        running = asyncio.ensure_future(flood.post("/generate/invoke", json=body))
        await upstream.called(1)
        waiting = asyncio.ensure_future(flood.post("/generate/invoke", json=body))
        await asyncio.sleep(0.05)
        waiting.cancel()  # the client gives up while queued
        await asyncio.sleep(0.05)
        again = await flood.post("/generate/invoke", json=body)  # its place is free
        assert (await running).status_code == 200
    assert again.status_code == 200


async def test_one_requests_many_calls_wait_in_its_own_line_not_the_tenants(make_settings):
    """A summary of six parts is one request: it neither fills the tenant's line of two, nor
    times out while its own parts go ahead of each other (6 x 0.3 s, beyond the 1 s wait)."""
    upstream = script()
    model = busy_model(queue_per_tenant=2, queue_timeout=1.0)
    platform = platform_with(make_settings, model, upstream, summarize_chunk_chars=400)
    text = " ".join(f"Sentence {n} of a long text about queues." for n in range(60))
    async with platform.client(platform.key("flood")) as flood:
        response = await flood.post("/summarize/invoke", json={"input": {"text": text}})
        rows = (await flood.get("/usage")).json()["records"]
    assert response.status_code == 200, response.text
    assert len(upstream.calls) >= 7, "six parts and the summary"
    assert [(row["route"], row["status"]) for row in rows] == [("summarize", 200)]


async def test_a_batch_line_waits_behind_every_interactive_call_and_never_times_out():
    """A batch's line queued first still goes after an interactive call queued later, and
    waits past the queue's timeout (it has no client waiting on it)."""
    queue = FairQueue("busy", capacity=1, per_tenant=4, timeout=0.05)
    holding = await queue.acquire(Waiter("polite", "r0"))
    order: list[str] = []

    async def take(waiter: Waiter) -> None:
        release = await queue.acquire(waiter)
        order.append(waiter.request)
        await asyncio.sleep(0.01)
        release()

    line = asyncio.create_task(take(Waiter("flood", "batch-line", background=True)))
    await asyncio.sleep(0.1)  # past the timeout: an interactive call would have given up
    interactive = asyncio.create_task(take(Waiter("flood", "interactive")))
    await asyncio.sleep(0)
    holding()
    await asyncio.gather(line, interactive)
    assert order == ["interactive", "batch-line"]
    assert queue.waiting == 0
