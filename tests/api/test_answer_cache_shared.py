"""The semantic cache (with the embedded embedding model), and the cache shared by replicas in
Redis: a miss on one replica is a hit on another, identical calls in flight on two replicas
are made once, a tenant's entries stay its own in Redis, and Redis failing costs misses only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

CHAT = "/v1/chat/completions"
FRANCE = "What is the capital of France?"


def question(text: str, model: str = "sem", before: list[dict[str, str]] | None = None,
             ) -> dict[str, Any]:  # fmt: skip
    messages = [*(before or []), {"role": "user", "content": text}]
    return {"model": model, "messages": messages, "temperature": 0}


def models(upstream: str) -> dict[str, ModelSpec]:
    aliases = fault_aliases(upstream, "ok", "brief")
    semantic = {"mode": "semantic", "similarity": 0.85}
    aliases["sem"] = ModelSpec.model_validate({**aliases["ok"].model_dump(), "cache": semantic})
    return aliases


def platform_on(make_settings, upstream: str, **settings: Any) -> Platform:
    platform = Platform(create_app(make_settings(
        auth_enabled=True, models=models(upstream), default_model="ok", **settings)))  # fmt: skip
    for tenant in ("acme", "rival"):
        if not any(t.id == tenant for t in platform.services.tenants.list_tenants()):
            platform.tenant(tenant)
    return platform


@pytest.fixture(params=["in-process", "redis"])
def shared(request) -> dict[str, Any]:
    if request.param == "in-process":
        return {}
    return {"redis_url": redis_or_skip(), "redis_prefix": fresh_prefix()}


async def test_a_paraphrase_hits_and_another_question_or_conversation_misses(
    make_settings, upstream, upstream_app: Starlette, shared
):
    platform = platform_on(make_settings, upstream, **shared)
    pirate = [{"role": "system", "content": "You are a pirate."}]
    async with platform.client(platform.key("acme")) as client:
        first = await client.post(CHAT, json=question(FRANCE))
        before = upstream_app.state.hits["ok"]
        paraphrase = await client.post(CHAT, json=question("What's the capital city of France?"))
        other = await client.post(CHAT, json=question("What is the capital of Germany?"))
        unrelated = await client.post(CHAT, json=question("How do I bake bread at home?"))
        prefixed = await client.post(CHAT, json=question("What's the capital city of France?",
                                                         before=pirate))  # fmt: skip
    assert first.headers["cache-status"] == "genai; fwd=miss; stored"
    assert paraphrase.headers["cache-status"] == "genai; hit"
    assert paraphrase.json()["choices"] == first.json()["choices"]
    assert [r.headers["cache-status"] for r in (other, unrelated, prefixed)] == [
        "genai; fwd=miss; stored"
    ] * 3
    assert upstream_app.state.hits["ok"] == before + 3


async def test_no_semantic_entry_crosses_tenants(make_settings, upstream, shared):
    platform = platform_on(make_settings, upstream, **shared)
    async with platform.client(platform.key("acme")) as acme, \
            platform.client(platform.key("rival")) as rival:  # fmt: skip
        await acme.post(CHAT, json=question(FRANCE))
        theirs = await rival.post(CHAT, json=question("What's the capital city of France?"))
        same = await rival.post(CHAT, json=question(FRANCE))
    assert theirs.headers["cache-status"] == "genai; fwd=miss; stored"
    assert same.headers["cache-status"] == "genai; hit"  # their own entry, by now
    if shared:
        redis = Redis.from_url(shared["redis_url"])
        keys = [key.decode() async for key in redis.scan_iter(f"{shared['redis_prefix']}cache:*")]
        await redis.aclose()
        tenants = {key.removeprefix(shared["redis_prefix"]).split(":")[2] for key in keys}
        assert tenants == {"acme", "rival"}
        assert len([k for k in keys if ":v:" in k]) == 2  # one partition each, not one shared


def replicas(make_settings, upstream: str, tmp_path) -> tuple[Platform, Platform]:
    """Two replicas sharing Redis (and each its own database: the cache is what they share)."""
    shared = {"redis_url": redis_or_skip(), "redis_prefix": fresh_prefix()}
    one = platform_on(make_settings, upstream, data_dir=tmp_path / "one", **shared)
    two = platform_on(make_settings, upstream, data_dir=tmp_path / "two", **shared)
    return one, two


async def test_a_miss_on_one_replica_is_a_hit_on_the_other(
    make_settings, upstream, upstream_app, tmp_path
):
    one, two = replicas(make_settings, upstream, tmp_path)
    before = upstream_app.state.hits["ok"]
    async with one.client(one.key("acme")) as first, two.client(two.key("acme")) as second:
        missed = await first.post(CHAT, json=question(FRANCE, "ok"))
        hit = await second.post(CHAT, json=question(FRANCE, "ok"))
        async with second.stream("POST", CHAT, json={**question(FRANCE, "ok"),
                                                     "stream": True}) as streamed:  # fmt: skip
            await streamed.aread()
        async with first.stream("POST", CHAT, json={**question(FRANCE, "ok"),
                                                    "stream": True}) as again:  # fmt: skip
            await again.aread()
    assert missed.headers["cache-status"] == "genai; fwd=miss; stored"
    assert hit.headers["cache-status"] == "genai; hit"
    assert (streamed.headers["cache-status"], again.headers["cache-status"]) == (
        "genai; fwd=miss",
        "genai; hit",
    )
    assert upstream_app.state.hits["ok"] == before + 2


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_identical_calls_in_flight_on_two_replicas_are_made_once(
    make_settings, upstream, upstream_app, tmp_path, stream
):
    one, two = replicas(make_settings, upstream, tmp_path)
    body = {**question(FRANCE, "brief"), "stream": stream}
    before = upstream_app.state.hits["brief"]
    async with one.client(one.key("acme")) as first, two.client(two.key("acme")) as second:

        async def ask(client, delay: float) -> tuple[str, bytes]:
            await asyncio.sleep(delay)
            async with client.stream("POST", CHAT, json=body) as response:
                return response.headers["cache-status"], await response.aread()

        answers = await asyncio.gather(*(ask(c, 0.05 * (i % 2)) for i, c in
                                         enumerate([first, second] * 5)))  # fmt: skip
    assert upstream_app.state.hits["brief"] == before + 1
    statuses = [status for status, _ in answers]
    assert statuses.count("genai; fwd=miss; collapsed") == 9  # the one that paid is a miss
    assert {status.removesuffix("; stored") for status in statuses} == {
        "genai; fwd=miss",
        "genai; fwd=miss; collapsed",
    }
    words = [b"fault", b"upstream", b"says", b"hello"]
    assert all(all(word in text for word in words) for _, text in answers)


async def test_redis_failing_is_a_miss_never_an_error(make_settings, upstream, upstream_app):
    platform = platform_on(make_settings, upstream, redis_url=redis_or_skip(),
                           redis_prefix=fresh_prefix())  # fmt: skip
    store = platform.services.providers.cache
    store._redis = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2)
    before = upstream_app.state.hits["ok"]
    async with platform.client(platform.key("acme")) as client:
        answers = [await client.post(CHAT, json=question(FRANCE, model)) for model in
                   ("ok", "ok", "sem")]  # fmt: skip
        async with client.stream("POST", CHAT, json={**question(FRANCE, "ok"),
                                                     "stream": True}) as streamed:  # fmt: skip
            body = await streamed.aread()
    assert [a.status_code for a in answers] == [200, 200, 200] and streamed.status_code == 200
    assert [a.headers["cache-status"] for a in answers] == ["genai; fwd=miss"] * 3
    assert b"[DONE]" in body
    assert upstream_app.state.hits["ok"] == before + 4
    assert store.errors > 0
