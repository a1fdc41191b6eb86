"""Every admitted request leaves exactly one ledger row: tokens, cost, status, interruption."""

from __future__ import annotations

import asyncio
import csv
import io

import httpx
import pytest

from app.main import create_app
from app.settings import ModelSpec
from tests.support.echo_upstream import EchoUpstream
from tests.support.servers import serving
from tests.support.sse import aiter_events, read_events
from tests.support.tenancy import PRICED_MODELS, Platform, build_platform

PRICED = {"configurable": {"model": "priced"}}


def cost(row: dict) -> float:
    """The price table of PRICED_MODELS: $1 / 1k input tokens, $2 / 1k output tokens."""
    return row["input_tokens"] * 0.001 + row["output_tokens"] * 0.002


@pytest.fixture
def platform(make_settings, database) -> Platform:
    return build_platform(
        make_settings(database_url=database, models=PRICED_MODELS), EchoUpstream(delay=0.4)
    )


async def rows_of(client: httpx.AsyncClient, request_id: str, wait: float = 0.0) -> list[dict]:
    for _ in range(int(wait / 0.05) + 1):
        records = (await client.get("/usage")).json()["records"]
        mine = [row for row in records if row["request_id"] == request_id]
        if mine:
            return mine
        await asyncio.sleep(0.05)
    return []


async def test_a_non_streamed_request_records_the_tokens_the_provider_reported(platform):
    async with platform.client() as client:
        body = {"input": {"prompt": "Name a colour."}, "config": PRICED}
        response = await client.post("/generate/invoke", json=body)
        [row] = await rows_of(client, response.headers["x-request-id"])
    assert (row["status"], row["interrupted"], row["token_source"]) == (200, False, "provider")
    assert row["route"] == "generate" and row["model"] == "priced"
    assert row["output_tokens"] == len(response.json()["output"].split())  # one per word
    assert row["input_tokens"] > 0
    assert row["cost_usd"] == pytest.approx(cost(row))
    assert row["latency_ms"] > 0 and row["ttft_ms"] is None


async def test_a_streamed_request_is_counted_by_us(platform):
    async with platform.client() as client:
        body = {"input": {"prompt": "Name a colour."}, "config": PRICED}
        async with client.stream("POST", "/generate/stream", json=body) as response:
            events = [event async for event in aiter_events(response)]
        assert events[-1].event == "end"
        [row] = await rows_of(client, response.headers["x-request-id"])
    assert (row["status"], row["interrupted"], row["token_source"]) == (200, False, "estimated")
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert row["cost_usd"] == pytest.approx(cost(row))
    assert 0 < row["ttft_ms"] <= row["latency_ms"]


async def test_a_client_leaving_mid_stream_is_recorded_with_its_partial_output(platform):
    with serving(platform.app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            body = {"input": {"prompt": "Tell me a long story."}, "config": PRICED}
            async with client.stream("POST", "/generate/stream", json=body) as response:
                request_id = response.headers["x-request-id"]
                seen = 0
                async for event in aiter_events(response):
                    seen += event.event == "data"
                    if seen == 3:
                        break  # the client goes away
            [row] = await rows_of(client, request_id, wait=3.0)
    assert (row["status"], row["interrupted"]) == (499, True)
    assert row["output_tokens"] >= 2
    assert row["cost_usd"] == pytest.approx(cost(row))


@pytest.fixture
def failing(make_settings, database, upstream) -> Platform:
    def spec(model: str) -> ModelSpec:
        return ModelSpec(
            provider="openai-compatible", model=model, base_url=upstream, max_retries=0,
            input_price_per_million=1000.0, output_price_per_million=2000.0,
        )  # fmt: skip

    models = {"broken": spec("broken"), "drop": spec("drop")}
    settings = make_settings(database_url=database, models=models, default_model="broken")
    return Platform(create_app(settings))


async def test_a_provider_failure_is_recorded_once_with_its_status(failing):
    async with failing.client() as client:
        response = await client.post("/complete/invoke", json={"input": {"text": "Once"}})
        assert response.status_code == 502
        rows = (await client.get("/usage")).json()["records"]
    [row] = rows
    assert row["request_id"] == response.headers["x-request-id"]
    assert (row["status"], row["input_tokens"], row["output_tokens"]) == (502, 0, 0)
    assert row["cost_usd"] == 0


async def test_a_provider_dropping_mid_stream_is_recorded_as_interrupted(failing):
    async with failing.client() as client:
        body = {"input": {"text": "Once"}, "config": {"configurable": {"model": "drop"}}}
        events = await read_events(client, "/complete/stream", body)
        assert events[-1].event == "error"
        [row] = (await client.get("/usage")).json()["records"]
    assert (row["status"], row["interrupted"], row["model"]) == (502, True, "drop")
    assert row["output_tokens"] > 0  # the words that did arrive are counted
    assert row["cost_usd"] == pytest.approx(cost(row))


async def test_usage_filters_and_csv(platform):
    async with platform.client() as client:
        await client.post("/generate/invoke", json={"input": {"prompt": "a"}, "config": PRICED})
        await client.post("/complete/invoke", json={"input": {"text": "b"}})
        by_route = (await client.get("/usage?route=complete")).json()
        assert [r["route"] for r in by_route["records"]] == ["complete"]
        by_model = (await client.get("/usage?model=priced")).json()
        assert [r["model"] for r in by_model["records"]] == ["priced"]
        assert by_model["totals"]["requests"] == 1
        future = (await client.get("/usage?since=2999-01-01T00:00:00Z")).json()
        assert future["records"] == []
        table = (await client.get("/usage?format=csv")).text
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [row["route"] for row in rows] == ["generate", "complete"]
    assert rows[0]["cost_usd"] and rows[0]["token_source"] == "provider"


async def test_bad_usage_filters_are_422(platform):
    async with platform.client() as client:
        response = await client.get("/usage?since=yesterday")
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "since"


async def test_a_reused_client_request_id_is_echoed_but_never_collides(make_settings, database):
    """Clients retry with the same X-Request-Id, and other tenants pick the same ids: the
    ledger's identity is the platform's own, so every request is answered and recorded."""
    platform = build_platform(
        make_settings(auth_enabled=True, database_url=database, models=PRICED_MODELS)
    )
    for tenant in ("acme", "globex"):
        platform.tenant(tenant)
    retry = {"X-Request-Id": "retry-1"}
    chat = {
        "input": {"messages": [{"type": "human", "content": "Hi"}]},
        "config": {"configurable": {"session_id": "s1"}},
    }
    async with (
        platform.client(platform.key("acme")) as acme,
        platform.client(platform.key("globex")) as globex,
    ):
        for client in (acme, acme, globex):
            response = await client.post(
                "/generate/invoke", json={"input": {"prompt": "Hi"}}, headers=retry
            )
            assert response.status_code == 200, response.text
            assert response.headers["x-request-id"] == "retry-1"
        for _ in range(2):
            assert (await acme.post("/chat/invoke", json=chat, headers=retry)).status_code == 200
            body = {"input": {"prompt": "Hi"}}
            async with acme.stream("POST", "/generate/stream", json=body, headers=retry) as r:
                assert [event.event async for event in aiter_events(r)][-1] == "end"
        history = (await acme.get("/chat/history", params={"session_id": "s1"})).json()
        acme_rows = (await acme.get("/usage")).json()["records"]
        globex_rows = (await globex.get("/usage")).json()["records"]
    assert len(history["messages"]) == 4  # two turns, each billed below
    assert [row["client_request_id"] for row in acme_rows] == ["retry-1"] * 6
    assert [row["client_request_id"] for row in globex_rows] == ["retry-1"]
    ids = {row["request_id"] for row in acme_rows + globex_rows}
    assert len(ids) == 7 and "retry-1" not in ids
    assert all(row["status"] == 200 for row in acme_rows + globex_rows)


async def test_usage_pages_through_every_row_and_totals_them_all(platform):
    """No silent cap: totals count every matching row, and pages reach each one once."""
    platform.stored_rows(10_050)
    async with platform.client() as client:
        first = (await client.get("/usage")).json()
        assert first["totals"] == {
            "requests": 10_050, "input_tokens": 20_100, "output_tokens": 30_150,
            "cost_usd": pytest.approx(100.5), "images": 0,
            "cache": {"cacheable": 0, "hits": 0, "coalesced": 0, "misses": 0,
                      "hit_ratio": None, "saved_usd": 0.0},
            "guardrails": {},
        }  # fmt: skip
        assert len(first["records"]) == 1000 and first["next_after"] is not None
        seen, after = [row["request_id"] for row in first["records"]], first["next_after"]
        while after is not None:
            page = (await client.get("/usage", params={"after": after, "limit": 5000})).json()
            assert page["totals"]["requests"] == 10_050  # of the filter, not the page
            seen += [row["request_id"] for row in page["records"]]
            after = page["next_after"]
        table = (await client.get("/usage?format=csv")).text
        too_many = await client.get("/usage", params={"limit": 10_001})
    assert len(seen) == len(set(seen)) == 10_050
    assert len(list(csv.DictReader(io.StringIO(table)))) == 10_050
    assert too_many.status_code == 422 and too_many.json()["error"]["param"] == "limit"
