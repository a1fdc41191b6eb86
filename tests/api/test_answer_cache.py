"""The answer cache, seen from outside: what a client gets (the same answer, `Cache-Status`,
`Age`), the calls the upstream counts, and the ledger rows (cost 0, `saved_usd`, who paid).

Aliases over the fault upstream: "ok" answers at once, "brief" takes 0.3 s, "paced" streams
for 2 s, "drop" cuts its stream; "priced" is "ok" at $1 per 1,000 input tokens and $2 per
1,000 output tokens, "tiny" is "ok" with entries capped far below its answer.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from app.usage.ledger import UsageFilter
from tests.support.servers import serving
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

CHAT = "/v1/chat/completions"
ANSWER = "fault upstream says hello"


def question(text: str = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    return {"model": "priced", "messages": [{"role": "user", "content": text}],
            "temperature": 0, **fields}  # fmt: skip


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    models = fault_aliases(upstream, "ok", "brief", "paced", "drop")
    models["priced"] = models["ok"].model_copy(update={
        "input_price_per_million": 1000.0, "output_price_per_million": 2000.0,
    })  # fmt: skip
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="ok")))  # fmt: skip
    platform.tenant("acme")
    platform.tenant("rival")
    return platform


@pytest.fixture
def keys(platform: Platform) -> dict[str, str]:
    return {"acme": platform.key("acme"), "rival": platform.key("rival")}


def calls(upstream_app: Starlette, model: str = "ok") -> int:
    return upstream_app.state.hits[model]


def rows(platform: Platform, tenant: str = "acme") -> list[dict[str, Any]]:
    return platform.services.ledger.page(UsageFilter(tenant_id=tenant), 1000)


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
                    import json

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


@pytest.fixture
def chains(make_settings, upstream) -> Platform:
    """The use cases on the fault upstream (its "ok" model answers every call the same)."""
    settings = make_settings(models=fault_aliases(upstream, "ok"), default_model="ok",
                             summarize_chunk_chars=200)  # fmt: skip
    platform = Platform(create_app(settings))
    return platform


DETERMINISTIC = {"configurable": {"temperature": 0}}


async def test_a_summary_of_the_same_document_is_computed_once(chains, upstream_app):
    document = " ".join(f"Sentence {n} of a report on the harbour's traffic." for n in range(40))
    body = {"input": {"text": document}, "config": DETERMINISTIC}
    async with chains.client() as client:
        await client.get("/ready")
        before = calls(upstream_app)
        first = await client.post("/summarize/invoke", json=body)
        made = calls(upstream_app) - before
        second = await client.post("/summarize/invoke", json=body)
    assert made > 2  # map-reduce: a call per part, then the summary of the parts
    assert calls(upstream_app) == before + made
    assert second.json()["output"] == first.json()["output"]
    assert (first.headers["cache-status"], second.headers["cache-status"]) == (
        "genai; fwd=miss; stored",
        "genai; hit",
    )
    paid, hit = rows(chains, "local")
    assert (paid["cache"], hit["cache"], hit["cost_usd"], hit["paid_by"]) == (
        "miss",
        "hit",
        0.0,
        paid["request_id"],
    )
    assert hit["prompt"] == paid["prompt"]


async def test_a_use_cases_stream_and_batch_use_the_cache(chains, upstream_app):
    body = {"input": {"prompt": "Name a colour."}, "config": DETERMINISTIC}
    async with chains.client() as client:
        await client.get("/ready")
        await client.post("/generate/invoke", json=body)
        before = calls(upstream_app)
        async with client.stream("POST", "/generate/stream", json=body) as response:
            events = [event.event async for event in aiter_events(response)]
        both = await client.post("/generate/batch", json={
            "inputs": [body["input"], body["input"]], "config": DETERMINISTIC})  # fmt: skip
    assert events[-1] == "end" and "data" in events
    assert both.status_code == 200 and len(both.json()["output"]) == 2
    assert calls(upstream_app) == before + 1  # the stream's first; the batch's from it
    assert [row["cache"] for row in rows(chains, "local")] == ["miss", "miss", "hit"]


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


async def test_another_prompt_version_misses_and_its_own_version_hits(
    make_settings, upstream, upstream_app, tmp_path
):
    """A use case's prompt is in its call's messages: version 2's entries are not version 1's."""
    from tests.api.test_prompt_versions import prompts_with_a_second_version

    folder = prompts_with_a_second_version(tmp_path / "prompts", None)
    settings = make_settings(models=fault_aliases(upstream, "ok"), default_model="ok",
                             prompts_dir=folder)  # fmt: skip
    platform = Platform(create_app(settings))

    def pinned(version: int) -> dict[str, Any]:
        return {
            "input": {"prompt": "Name a colour."},
            "config": {"configurable": {"temperature": 0, "prompt_version": version}},
        }

    async with platform.client() as client:
        await client.get("/ready")
        before = calls(upstream_app)
        answers = [await client.post("/generate/invoke", json=pinned(v)) for v in (1, 2, 1, 2)]
    assert [a.headers["cache-status"] for a in answers] == [
        "genai; fwd=miss; stored",
        "genai; fwd=miss; stored",
        "genai; hit",
        "genai; hit",
    ]
    assert calls(upstream_app) == before + 2
    assert [row["prompt"] for row in rows(platform, "local")] == [
        "generate@1",
        "generate@2",
        "generate@1",
        "generate@2",
    ]
