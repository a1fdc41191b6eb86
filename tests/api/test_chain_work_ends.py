"""A chain's work ends with its request, however the request ends: a summary's parts, condensed
at once, are all cancelled when the client leaves or one of them fails, and each is billed
for what it did (its prompt, for a call the provider had begun).

The model is our fault upstream's `slow`: not streamed, it answers only when the platform hangs
up, and counts the calls still waiting in `open_calls`.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from langchain_text_splitters import RecursiveCharacterTextSplitter
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from tests.support.servers import serving
from tests.support.tenancy import Platform

TEXT = " ".join(f"Sentence {n} of a long report on the harbour's budget." for n in range(60))
PARTS = len(RecursiveCharacterTextSplitter(chunk_size=400, chunk_overlap=20).split_text(TEXT))


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    slow = ModelSpec(provider="openai-compatible", model="slow", base_url=upstream,
                     max_retries=0, input_price_per_million=1.0)  # fmt: skip
    settings = make_settings(auth_enabled=True, models={"slow": slow}, default_model="slow",
                             summarize_chunk_chars=400)  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("acme")
    platform.tenant("capped", tpm=6_000)  # admits the request, not every part's call
    return platform


async def until_open(upstream_app: Starlette, count: int, seconds: float = 5.0) -> None:
    """Until `count` calls of `slow` are waiting at the provider (fails after `seconds`)."""
    async with asyncio.timeout(seconds):
        while upstream_app.state.open_calls["slow"] != count:
            await asyncio.sleep(0.02)


async def row_of(platform: Platform, tenant: str) -> dict:
    async with platform.client(platform.key(tenant)) as client:
        for _ in range(100):
            if rows := (await client.get("/usage")).json()["records"]:
                return rows[0]
            await asyncio.sleep(0.05)
    raise AssertionError("no ledger row")


async def test_a_client_leaving_invoke_cancels_every_part_and_each_is_billed(
    platform, upstream_app
):
    await until_open(upstream_app, 0)
    headers = {"Authorization": f"Bearer {platform.key('acme')}"}
    with serving(platform.app) as url:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            call = asyncio.ensure_future(
                client.post("/summarize/invoke", json={"input": {"text": TEXT}})
            )
            await until_open(upstream_app, PARTS)  # every part is at the provider
            call.cancel()  # the client leaves
            await asyncio.gather(call, return_exceptions=True)
        await until_open(upstream_app, 0, seconds=2.0)  # each part's call is hung up on
        row = await row_of(platform, "acme")
    assert (row["status"], row["interrupted"]) == (499, True)
    assert row["input_tokens"] >= PARTS * 100, "every part's prompt is billed (400+ chars each)"


async def test_a_failed_part_cancels_the_parts_still_running(platform, upstream_app):
    """The tenant's tpm lets the request in and its first parts' calls, then refuses the next
    part's reservation: the request fails with that 429, and no part is left running."""
    await until_open(upstream_app, 0)
    async with platform.client(platform.key("capped")) as client, asyncio.timeout(10):
        response = await client.post("/summarize/invoke", json={"input": {"text": TEXT}})
        await until_open(upstream_app, 0, seconds=2.0)
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "tpm_exceeded"
    row = await row_of(platform, "capped")
    assert row["status"] == 429 and row["input_tokens"] > 0, "the parts that ran are billed"
