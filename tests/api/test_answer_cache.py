"""The answer cache, seen from outside: what a client gets (the same answer, `Cache-Status`,
`Age`), the calls the upstream counts, and the ledger rows (cost 0, `saved_usd`, who paid);
the platform and its aliases: tests/support/answer_cache.py."""

from __future__ import annotations

import asyncio
import unicodedata

import pytest

from app.main import create_app
from app.settings import ModelSpec
from tests.support.answer_cache import ANSWER, CHAT, cache_platform, calls, question, rows
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    return cache_platform(make_settings, upstream)


@pytest.fixture
def keys(platform: Platform) -> dict[str, str]:
    return {"acme": platform.key("acme"), "rival": platform.key("rival")}


async def test_the_same_request_twice_is_answered_once_and_the_second_is_free(
    platform, keys, upstream_app
):
    before = calls(upstream_app)
    async with platform.client(keys["acme"]) as client:
        first = await client.post(CHAT, json=question())
        second = await client.post(CHAT, json=question())
    assert first.status_code == second.status_code == 200
    assert first.headers["cache-status"] == "genai; fwd=miss; stored"
    assert second.headers["cache-status"] == "genai; hit"
    assert int(second.headers["age"]) >= 0 and "age" not in first.headers
    content = [r.json()["choices"][0]["message"]["content"] for r in (first, second)]
    assert content == [ANSWER, ANSWER]
    assert second.json()["usage"] == first.json()["usage"]
    assert calls(upstream_app) == before + 1
    paid, hit = rows(platform)
    assert (paid["cache"], hit["cache"]) == ("miss", "hit")
    assert paid["cost_usd"] > 0 and paid["saved_usd"] == 0
    assert hit["cost_usd"] == 0 and hit["saved_usd"] == pytest.approx(paid["cost_usd"])
    assert hit["paid_by"] == paid["request_id"] == first.headers["x-request-id"]
    assert (hit["input_tokens"], hit["output_tokens"]) == (paid["input_tokens"],
                                                           paid["output_tokens"])  # fmt: skip


async def test_another_tenants_identical_request_misses(platform, keys, upstream_app):
    before = calls(upstream_app)
    async with platform.client(keys["acme"]) as acme, platform.client(keys["rival"]) as rival:
        await acme.post(CHAT, json=question())
        theirs = await rival.post(CHAT, json=question())
    assert theirs.headers["cache-status"] == "genai; fwd=miss; stored"
    assert calls(upstream_app) == before + 2
    assert [row["cache"] for row in rows(platform, "rival")] == ["miss"]


@pytest.mark.parametrize(
    "changed",
    [{"temperature": 0.5, "seed": 1}, {"max_tokens": 7}, {"model": "ok"}, {"top_p": 0.5}],
    ids=["temperature", "max_tokens", "alias", "top_p"],
)
async def test_a_request_that_differs_in_what_changes_the_answer_misses(
    platform, keys, upstream_app, changed
):
    async with platform.client(keys["acme"]) as client:
        await client.post(CHAT, json=question())
        before = calls(upstream_app)
        other = await client.post(CHAT, json=question(**changed))
    assert other.headers["cache-status"] == "genai; fwd=miss; stored"
    assert calls(upstream_app) == before + 1


async def test_field_order_and_defaults_spelt_out_do_not_change_the_key(platform, keys):
    reordered = {"temperature": 0.0, "messages": question()["messages"], "model": "priced",
                 "top_p": 1, "n": 1, "user": "someone", "stream": False}  # fmt: skip
    async with platform.client(keys["acme"]) as client:
        await client.post(CHAT, json=question())
        again = await client.post(CHAT, json=reordered)
    assert again.headers["cache-status"] == "genai; hit"


async def test_text_that_only_looks_alike_is_another_key(platform, keys, upstream_app):
    """NFC and NFD spell "café" with other code points, which a model reads as other tokens:
    they must not collide (nor may a normalising cache merge them)."""
    composed = unicodedata.normalize("NFC", "Un café, s'il vous plaît")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    async with platform.client(keys["acme"]) as client:
        await client.post(CHAT, json=question(composed))
        before = calls(upstream_app)
        other = await client.post(CHAT, json=question(decomposed))
    assert other.headers["cache-status"] == "genai; fwd=miss; stored"
    assert calls(upstream_app) == before + 1


async def test_an_answer_that_is_not_fixed_is_not_cached(platform, keys, upstream_app):
    """Temperature above 0 without a seed: each call may answer otherwise."""
    before = calls(upstream_app)
    async with platform.client(keys["acme"]) as client:
        answers = [await client.post(CHAT, json=question(temperature=0.7)) for _ in range(2)]
        seeded = [await client.post(CHAT, json=question(temperature=0.7, seed=3))
                  for _ in range(2)]  # fmt: skip
    assert ["cache-status" in r.headers for r in answers] == [False, False]
    assert [r.headers["cache-status"] for r in seeded] == ["genai; fwd=miss; stored",
                                                           "genai; hit"]  # fmt: skip
    assert calls(upstream_app) == before + 3
    assert [row["cache"] for row in rows(platform)] == [None, None, "miss", "hit"]


async def test_no_store_neither_reads_nor_writes_and_no_cache_forwards_and_refreshes(
    platform, keys, upstream_app
):
    async with platform.client(keys["acme"]) as client:
        before = calls(upstream_app)
        unstored = await client.post(CHAT, json=question(), headers={"Cache-Control": "no-store"})
        assert unstored.headers["cache-status"] == "genai; fwd=request"
        first = await client.post(CHAT, json=question())
        assert first.headers["cache-status"] == "genai; fwd=miss; stored"  # nothing was kept
        bypass = await client.post(CHAT, json=question(), headers={"Cache-Control": "no-store"})
        assert bypass.headers["cache-status"] == "genai; fwd=request"  # not read either
        fresh = await client.post(CHAT, json=question(), headers={"Cache-Control": "no-cache"})
        assert fresh.headers["cache-status"] == "genai; fwd=request; stored"
        assert calls(upstream_app) == before + 4
        hit = await client.post(CHAT, json=question())
    assert hit.headers["cache-status"] == "genai; hit"
    assert hit.json()["choices"] == fresh.json()["choices"]
    assert rows(platform)[-1]["paid_by"] == fresh.headers["x-request-id"]  # what refreshed it
    assert [row["cache"] for row in rows(platform)] == ["bypass", "miss", "bypass", "bypass",
                                                        "hit"]  # fmt: skip


async def test_max_age_uses_only_entries_young_enough(platform, keys, upstream_app):
    async with platform.client(keys["acme"]) as client:
        await client.post(CHAT, json=question())
        young = await client.post(CHAT, json=question(), headers={"Cache-Control": "max-age=60"})
        before = calls(upstream_app)
        stale = await client.post(CHAT, json=question(), headers={"Cache-Control": "max-age=0"})
    assert young.headers["cache-status"] == "genai; hit"
    assert stale.headers["cache-status"] == "genai; fwd=miss; stored"
    assert calls(upstream_app) == before + 1


async def test_completions_and_embeddings_are_cached_too(platform, keys, upstream_app):
    completion = {"model": "ok", "prompt": "Say hello.", "temperature": 0}
    embedding = {"model": "ok", "input": ["one text", "another"]}
    async with platform.client(keys["acme"]) as client:
        before = calls(upstream_app)
        texts = [await client.post("/v1/completions", json=completion) for _ in range(2)]
        vectors = [await client.post("/v1/embeddings", json=embedding) for _ in range(2)]
    assert [r.headers["cache-status"] for r in texts + vectors] == [
        "genai; fwd=miss; stored",
        "genai; hit",
        "genai; fwd=miss; stored",
        "genai; hit",
    ]
    assert texts[0].json()["choices"] == texts[1].json()["choices"]
    assert vectors[0].json()["data"] == vectors[1].json()["data"]
    assert vectors[1].json()["usage"] == vectors[0].json()["usage"]
    assert calls(upstream_app) == before + 2


async def test_a_poisoned_entry_is_ignored_and_replaced(platform, keys, upstream_app):
    store = platform.services.providers.cache
    async with platform.client(keys["acme"]) as client:
        await client.post(CHAT, json=question())
        for index, place in enumerate(list(store._entries)):  # as Redis could hold any bytes
            value, deadline = store._entries[place]
            store._entries[place] = ([b"not json", value[: len(value) // 2]][index % 2], deadline)
        before = calls(upstream_app)
        again = await client.post(CHAT, json=question())
        third = await client.post(CHAT, json=question())
    assert again.status_code == 200 and again.headers["cache-status"] == "genai; fwd=miss; stored"
    assert third.headers["cache-status"] == "genai; hit"
    assert calls(upstream_app) == before + 1


async def test_an_answer_larger_than_cache_max_entry_bytes_is_not_stored(
    make_settings, upstream, upstream_app
):
    settings = make_settings(models=fault_aliases(upstream, "ok"), default_model="ok",
                             cache_max_entry_bytes=64)  # fmt: skip
    platform = Platform(create_app(settings))
    before = calls(upstream_app)
    async with platform.client() as client:
        answers = [await client.post(CHAT, json=question(model="ok")) for _ in range(2)]
    assert [a.headers["cache-status"] for a in answers] == ["genai; fwd=miss"] * 2
    assert calls(upstream_app) == before + 2


async def test_a_tenant_or_an_alias_may_turn_the_cache_off(make_settings, upstream, upstream_app):
    models = fault_aliases(upstream, "ok")
    models["uncached"] = ModelSpec.model_validate(
        {**models["ok"].model_dump(), "cache": {"mode": "off"}}
    )
    settings = make_settings(auth_enabled=True, models=models, default_model="ok")
    platform = Platform(create_app(settings))
    platform.tenant("acme", cache="off")
    platform.tenant("other")
    before = calls(upstream_app)
    async with platform.client(platform.key("acme")) as acme, \
            platform.client(platform.key("other")) as other:  # fmt: skip
        mine = [await acme.post(CHAT, json=question(model="ok")) for _ in range(2)]
        theirs = [await other.post(CHAT, json=question(model="uncached")) for _ in range(2)]
    assert ["cache-status" in r.headers for r in mine + theirs] == [False] * 4
    assert calls(upstream_app) == before + 4


async def test_a_hit_counts_toward_requests_per_minute_but_not_tokens(make_settings, upstream):
    settings = make_settings(auth_enabled=True, models=fault_aliases(upstream, "ok"),
                             default_model="ok")  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("acme", rpm=3)
    async with platform.client(platform.key("acme")) as client:
        answers = [await client.post(CHAT, json=question(model="ok")) for _ in range(4)]
        load = (await client.get("/me")).json()
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "rpm_exceeded"
    paid, *hits = rows(platform)
    assert [row["cache"] for row in hits] == ["hit", "hit"]
    tokens = paid["input_tokens"] + paid["output_tokens"]
    assert load["load"]["tokens_last_minute"] == tokens  # the hits' tokens were not counted


async def test_an_admin_purges_a_tenants_entries(platform, keys, upstream_app):
    admin = platform.key("acme", name="admin", admin=True)
    async with platform.client(keys["acme"]) as client, platform.client(admin) as admin_client:
        await client.post(CHAT, json=question())
        missing = await admin_client.delete("/admin/tenants/nobody/cache")
        unknown = await admin_client.delete("/admin/tenants/acme/cache", params={"model": "x"})
        other = await admin_client.delete("/admin/tenants/acme/cache", params={"model": "ok"})
        kept = await client.post(CHAT, json=question())
        purged = await admin_client.delete("/admin/tenants/acme/cache",
                                           params={"model": "priced"})  # fmt: skip
        before = calls(upstream_app)
        after = await client.post(CHAT, json=question())
    assert missing.status_code == 404 and unknown.status_code == 404
    assert unknown.json()["error"]["param"] == "model"
    assert other.json()["purged"] == 0 and kept.headers["cache-status"] == "genai; hit"
    assert purged.json() == {"tenant_id": "acme", "model": "priced", "purged": 1}
    assert after.headers["cache-status"] == "genai; fwd=miss; stored"
    assert calls(upstream_app) == before + 1


async def test_usage_shows_hits_the_hit_ratio_and_money_saved(platform, keys):
    async with platform.client(keys["acme"]) as client:
        for _ in range(4):
            await client.post(CHAT, json=question())
        usage = (await client.get("/usage", params={"group_by": "cache"})).json()
    assert usage["totals"]["cache"]["hits"] == 3
    assert usage["totals"]["cache"]["hit_ratio"] == 0.75
    [group] = usage["by_cache"]
    assert (group["tenant_id"], group["model"]) == ("acme", "priced")
    assert group["cache"]["saved_usd"] == pytest.approx(3 * usage["records"][0]["cost_usd"])


async def test_the_responses_and_messages_dialects_are_cached_in_their_own_shapes(
    platform, keys, upstream_app
):
    responses = {
        "model": "priced",
        "input": "What is the capital of France?",
        "temperature": 0,
        "max_output_tokens": 64,
    }
    messages = {
        "model": "priced",
        "max_tokens": 64,
        "temperature": 0,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }
    async with platform.client(keys["acme"]) as client:
        before = calls(upstream_app)
        kept = [await client.post("/v1/responses", json=responses) for _ in range(2)]
        claude = [await client.post("/v1/messages", json=messages) for _ in range(2)]
    # Both ask chat completions the same question: the Messages request is answered by the
    # Responses request's entry, in its own shape.
    assert [r.headers["cache-status"] for r in kept + claude] == [
        "genai; fwd=miss; stored",
        "genai; hit",
        "genai; hit",
        "genai; hit",
    ]
    assert kept[0].json()["id"] != kept[1].json()["id"]  # each response is its own, kept
    assert kept[1].json()["output"][0]["content"][0]["text"] == ANSWER
    assert claude[1].json()["content"] == claude[0].json()["content"]
    assert claude[1].json()["usage"] == claude[0].json()["usage"]
    assert claude[0].json()["content"][0]["text"] == ANSWER
    assert calls(upstream_app) == before + 1


async def test_metrics_count_hits_misses_coalesced_and_the_bytes_stored(platform, keys):
    admin = platform.key("acme", name="admin", admin=True)
    async with platform.client(keys["acme"]) as client, platform.client(admin) as admin_client:
        await asyncio.gather(*(client.post(CHAT, json=question(model="brief")) for _ in range(3)))
        await client.post(CHAT, json=question(model="brief"))
        text = (await admin_client.get("/metrics")).text
    labels = 'model="brief",outcome="{}",tenant="acme"'
    assert f"genai_cache_requests_total{{{labels.format('miss')}}} 1.0" in text
    assert f"genai_cache_requests_total{{{labels.format('coalesced')}}} 2.0" in text
    assert f"genai_cache_requests_total{{{labels.format('hit')}}} 1.0" in text
    stored = next(line for line in text.splitlines() if line.startswith("genai_cache_bytes "))
    assert float(stored.split()[1]) > 0
