"""Every parameter that multiplies what a request can cost is reserved before the work: a
request is admitted only if its limits and budget cover the most it can cost, and what the
platform relays and bills never exceeds what it asked the provider for.

The upstream is our fault upstream at $0.01 a token, in and out; `generous` ignores `n` (10
choices, 10 images, whatever was asked), as a provider honouring a parameter of its own would.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from tests.support.fault_upstream import PIXEL
from tests.support.tenancy import Platform

CENT = 10_000.0  # USD per million tokens: $0.01 a token
MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    def alias(model: str) -> ModelSpec:
        return ModelSpec(
            provider="openai-compatible", model=model, base_url=upstream, max_retries=0,
            input_price_per_million=CENT, output_price_per_million=CENT,
            image_prices={"*": 0.25},
        )  # fmt: skip

    models = {name: alias(name) for name in ("ok", "generous", "brief")}
    settings = make_settings(auth_enabled=True, models=models, default_model="ok")
    platform = Platform(create_app(settings))
    platform.tenant("tpm", tpm=500)
    platform.tenant("thrifty", budget_usd=2.0)
    return platform


def form(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {k: str(v) for k, v in fields.items()},
        "files": {"image": ("a.png", base64.b64decode(PIXEL), "image/png")},
    }


#: (tenant, route, the body asking for one, the same asking for many): one fits the tenant's
#: 500 tokens a minute or its $2, many does not. Each parameter that multiplies cost is here.
MULTIPLIERS = {
    "chat n": ("tpm", "/v1/chat/completions",
               {"model": "ok", "messages": MESSAGES, "max_tokens": 100}, {"n": 16}),
    "completions n": ("tpm", "/v1/completions",
                      {"model": "ok", "prompt": "Once", "max_tokens": 100}, {"n": 16}),
    "completions best_of": ("tpm", "/v1/completions",
                            {"model": "ok", "prompt": "Once", "max_tokens": 100}, {"best_of": 16}),
    "completions prompts": ("tpm", "/v1/completions",
                            {"model": "ok", "prompt": ["Once"], "max_tokens": 100},
                            {"prompt": ["Once"] * 16}),
    "embeddings inputs": ("tpm", "/v1/embeddings",
                          {"model": "ok", "input": ["x" * 40]}, {"input": ["x" * 40] * 16}),
    "image n": ("thrifty", "/v1/images/generations",
                {"model": "ok", "prompt": "A kite"}, {"n": 10}),
    "image edit n": ("thrifty", "/v1/images/edits",
                     {"model": "ok", "prompt": "A kite"}, {"n": 10}),
    "chain batch inputs": ("tpm", "/complete/batch",
                           {"inputs": [{"text": "Once"}],
                            "config": {"configurable": {"max_tokens": 100}}},
                           {"inputs": [{"text": "Once"}] * 16}),
}  # fmt: skip


async def send(platform: Platform, tenant: str, path: str, body: dict[str, Any]):
    async with platform.client(platform.key(tenant)) as client:
        if path == "/v1/images/edits":
            return await client.post(path, **form(body))
        return await client.post(path, json=body)


@pytest.mark.parametrize("case", MULTIPLIERS)
async def test_each_cost_multiplier_is_reserved_before_any_work(
    platform, upstream_app: Starlette, case
):
    tenant, path, one, many = MULTIPLIERS[case]
    hits = sum(upstream_app.state.hits.values())
    alone = await send(platform, tenant, path, one)
    assert alone.status_code == 200, alone.text
    after_one = sum(upstream_app.state.hits.values())
    assert after_one > hits, "the single request reached the provider"
    refused = await send(platform, tenant, path, {**one, **many})
    assert refused.status_code == 429, f"{case}: {refused.status_code} {refused.text}"
    assert refused.json()["error"]["code"] in ("tpm_exceeded", "budget_exceeded")
    assert sum(upstream_app.state.hits.values()) == after_one, "refused before any provider call"


async def test_concurrent_requests_cannot_spend_past_the_budget_together(platform):
    """Each reserves 16 answers of 6 tokens and its prompt's bound, $1.70 of the $2: the two
    spent $3.40 before; now one runs. (`brief` takes 0.3 s: both are in flight at once.)"""
    body = {"model": "brief", "messages": MESSAGES, "max_tokens": 6, "n": 16}
    answers = await asyncio.gather(*[send(platform, "thrifty", "/v1/chat/completions", body)
                                     for _ in range(2)])  # fmt: skip
    assert sorted(answer.status_code for answer in answers) == [200, 429]
    async with platform.client(platform.key("thrifty")) as client:
        spent = (await client.get("/usage")).json()["totals"]["cost_usd"]
    assert spent <= 2.0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_an_answer_holds_no_more_choices_than_asked_nor_bills_them(platform, stream):
    body = {"model": "generous", "messages": MESSAGES, "max_tokens": 10, "stream": stream}
    async with platform.client(platform.key("thrifty")) as client:
        response = await client.post("/v1/chat/completions", json=body)
        [row] = (await client.get("/usage")).json()["records"]
    assert response.status_code == 200
    if stream:
        indexes = {choice["index"] for line in response.text.splitlines()
                   if line.startswith("data: {")
                   for choice in json.loads(line[6:])["choices"]}  # fmt: skip
    else:
        indexes = {choice["index"] for choice in response.json()["choices"]}
    assert indexes == {0}, "the provider's nine extra choices are not relayed"
    assert row["output_tokens"] <= 10, "nor billed"


async def test_images_beyond_n_are_neither_sent_nor_charged(platform):
    async with platform.client(platform.key("thrifty")) as client:
        response = await client.post(
            "/v1/images/generations", json={"model": "generous", "prompt": "A kite"}
        )
        [row] = (await client.get("/usage")).json()["records"]
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    assert row["images"] == 1
    assert row["cost_usd"] < 0.5, "one image's $0.25 and the prompt, not ten images' $2.50"


async def test_best_of_below_n_is_a_400_naming_best_of(platform):
    body = {"model": "ok", "prompt": "Once", "n": 3, "best_of": 2}
    response = await send(platform, "tpm", "/v1/completions", body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "best_of"
