"""The answer cache under the use cases: each model call of a chain is cached, so a summary of
the same document is computed once, and another prompt version is another entry."""

from __future__ import annotations

from typing import Any

import pytest

from app.main import create_app
from tests.support.answer_cache import calls, rows
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases


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
