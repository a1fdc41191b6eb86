"""A deployment slow to its first token is hedged: the next one is started beside it, the first
to answer wins, the other is cancelled at once, and both are billed.

Each test scripts its deployments in process (tests/support/scripted_upstream.py): `late`
starts at once (a stream's role chunk) and answers after 2 s, `hang` never answers, `ok`
answers at once.
"""

from __future__ import annotations

import time

import pytest

from app.main import create_app
from app.providers.hedging import AUTO_MIN_SAMPLES, Hedging
from app.services import build_services
from app.settings import ModelSpec
from tests.support.scripted_upstream import Late, Script, answer, silent
from tests.support.sse import read_events
from tests.support.tenancy import Platform

MESSAGES = [{"role": "user", "content": "Hi"}]


HELLO = "the fast deployment says hello"


@pytest.fixture
def late() -> Late:
    return Late(HELLO, seconds=2.0)


@pytest.fixture
def platform(make_settings, late: Late) -> Platform:
    script = Script(late=[late], hang=[silent()], ok=[answer(HELLO)])

    def alias(*models: str, **fields: object) -> ModelSpec:
        deployments = [
            {"provider": "openai-compatible", "model": model, "base_url": "http://scripted/v1",
             "max_retries": 0, "timeout": 5}
            for model in models
        ]  # fmt: skip
        return ModelSpec(deployments=deployments, input_price_per_million=1.0, **fields)

    models = {
        "ok": alias("ok"),
        "unhedged": alias("late", "ok"),
        "hedged": alias("late", "ok", hedge_after_ms=100, hedge_max_percent=100),
        "fast-hedged": alias("ok", "late", hedge_after_ms=500, hedge_max_percent=100),
        "capped": alias(
            "late", "ok", hedge_after_ms=100, hedge_max_percent=50, hedge_floor_seconds=0
        ),
        "quiet": alias("hang", "ok", hedge_after_ms=300),  # 10% of its requests, a floor
    }
    settings = make_settings(auth_enabled=True, models=models, default_model="ok")
    platform = Platform(create_app(services=build_services(settings, script.transport)))
    platform.tenant("acme")
    platform.tenant("ops")
    return platform


async def first_token_seconds(platform: Platform, model: str, stream: bool = True) -> float:
    """Seconds until the answer's first content reached the client; checks the answer."""
    body = {"model": model, "messages": MESSAGES, "stream": stream}
    started = time.monotonic()
    async with (
        platform.client(platform.key("acme")) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        parts = response.aiter_bytes()
        text = await anext(parts)  # /v1 starts a stream with content (a whole answer: all)
        first = time.monotonic() - started
        text += b"".join([part async for part in parts])
    assert (b"hello" in text) and (not stream or text.rstrip().endswith(b"[DONE]"))
    return first


async def rows(platform: Platform) -> list[dict]:
    async with platform.client(platform.key("acme")) as client:
        return (await client.get("/usage")).json()["records"]


def served_by(row: dict) -> list[str]:
    return [name.split(":")[1].split("@")[0] for name in row["deployments"].split(",")]


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_slow_first_token_is_hedged_and_the_fast_deployment_wins(platform, stream):
    unhedged = await first_token_seconds(platform, "unhedged", stream)
    hedged = await first_token_seconds(platform, "hedged", stream)
    assert unhedged >= 2.0, "without hedging the client waits for the slow deployment"
    assert hedged < 1.0, f"hedged after 0.1 s, the fast deployment answered: {hedged:.2f} s"
    row = (await rows(platform))[-1]
    assert (row["status"], row["hedged"], row["continued"]) == (200, True, False)
    assert served_by(row) == ["late", "ok"], "both deployments did work, both are named"


async def test_both_calls_are_billed_and_the_loser_is_cancelled_at_once(platform, late: Late):
    await first_token_seconds(platform, "ok")
    await first_token_seconds(platform, "hedged")
    answered = time.monotonic()
    plain, hedged = await rows(platform)
    assert hedged["output_tokens"] == plain["output_tokens"], "the winner's answer"
    assert hedged["input_tokens"] == 2 * plain["input_tokens"], "both calls read the prompt"
    assert hedged["cost_usd"] == pytest.approx(2 * plain["cost_usd"])
    assert late.closed_at is not None and late.closed_at < answered, (
        "the slow deployment's stream was closed before the answer ended"
    )


async def test_a_fast_deployment_is_not_hedged(platform):
    await first_token_seconds(platform, "fast-hedged")
    [row] = await rows(platform)
    assert (row["hedged"], served_by(row)) == (False, ["ok"])


async def test_the_hedged_share_of_requests_is_capped(platform):
    """50%: at most one hedge for every two requests over the last minute."""
    for _ in range(4):
        await first_token_seconds(platform, "capped")
    assert [row["hedged"] for row in await rows(platform)] == [False, True, False, True]


async def test_a_lone_request_to_a_quiet_alias_is_hedged_by_the_floor(platform):
    """10% of one request is no hedge; the floor allows one per 10 s all the same."""
    first = await first_token_seconds(platform, "quiet")
    assert first < 1.0, f"{first:.2f} s: the stalled deployment was waited for"
    [row] = await rows(platform)
    assert (row["status"], row["hedged"], served_by(row)) == (200, True, ["hang", "ok"])


def test_the_floor_allows_one_hedge_per_window_beyond_the_percentage():
    def spec(floor: float) -> ModelSpec:
        deployments = [{"provider": "local"}, {"provider": "local"}]
        return ModelSpec(deployments=deployments, hedge_after_ms=100, hedge_floor_seconds=floor)

    now = [0.0]
    hedging = Hedging({"quiet": spec(10)}, clock=lambda: now[0])

    def request() -> bool:
        hedging.requested("quiet")
        return hedging.may_hedge("quiet")

    assert request(), "the first hedge of the window"
    now[0] = 5.0
    assert not request(), "a second within 10 s, at 1 of 2 requests: over the share"
    now[0] = 10.0
    assert request(), "the next window's hedge"
    assert not Hedging({"quiet": spec(0)}).may_hedge("quiet"), "the percentage alone"


async def test_metrics_count_hedges_fired_and_won(platform):
    await first_token_seconds(platform, "hedged")
    await first_token_seconds(platform, "hedged")
    await first_token_seconds(platform, "fast-hedged")
    async with platform.client(platform.key("ops", admin=True)) as admin:
        scraped = (await admin.get("/metrics")).text.splitlines()
    for name in ("genai_hedges_fired_total", "genai_hedges_won_total"):
        [line] = [line for line in scraped if line.startswith(name)]
        assert 'model="hedged"' in line and ":ok@" in line and line.endswith(" 2.0"), line


def test_auto_hedges_after_the_deployments_recent_p95(make_settings):
    spec = ModelSpec(
        deployments=[{"provider": "local"}, {"provider": "local"}], hedge_after_ms="auto"
    )
    hedging = Hedging({"auto": spec})
    for _ in range(AUTO_MIN_SAMPLES - 1):
        hedging.observe("primary", 0.1)
    assert hedging.delay("auto", "primary") is None, "too few answers to know its p95"
    for seconds in [0.1] * 75 + [0.5] * 4 + [3.0] * 1:  # 100 answers, 95 of them in 0.5 s
        hedging.observe("primary", seconds)
    assert hedging.delay("auto", "primary") == 0.5


async def test_a_chain_route_is_hedged_too(platform):
    body = {"input": {"text": "Once"}, "config": {"configurable": {"model": "hedged"}}}
    started = time.monotonic()
    async with platform.client(platform.key("acme")) as client:
        events = await read_events(client, "/complete/stream", body)
    elapsed = time.monotonic() - started
    assert "".join(event.json() for event in events if event.event == "data") == HELLO
    assert elapsed < 1.0, f"{elapsed:.2f} s: the slow deployment was waited for"
    [row] = await rows(platform)
    assert (row["hedged"], served_by(row)) == (True, ["late", "ok"])
