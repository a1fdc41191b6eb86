"""/v1/embeddings: the embedded model (all-MiniLM-L6-v2 on onnxruntime, for real) and a
provider's embeddings passed through, called by the openai SDK and LangChain's
OpenAIEmbeddings; each answer checked against its ledger row."""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from app.main import create_app
from app.settings import ModelSpec
from tests.support.fault_upstream import vector
from tests.support.tenancy import Platform

GUITAR, INSTRUMENT, MARKETS = (
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "The stock market fell sharply today.",
)


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    def remote(model: str) -> dict:
        return {"provider": "openai-compatible", "model": model, "base_url": upstream,
                "max_retries": 0}  # fmt: skip

    models = {
        "local-embed": ModelSpec(provider="local-embed", input_price_per_million=100.0),
        "remote": ModelSpec(deployments=[remote("broken"), remote("ok")]),
    }
    settings = make_settings(auth_enabled=True, models=models, default_model="local-embed")
    platform = Platform(create_app(settings))
    platform.tenant("acme")
    return platform


@pytest.fixture
def key(platform: Platform) -> str:
    return platform.key("acme")


@pytest.fixture
async def client(platform: Platform, key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with platform.client(key) as client:
        yield client


@pytest.fixture
def sdk(client: httpx.AsyncClient, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://platform/v1", api_key=key, http_client=client, max_retries=0
    )


async def last_row(client: httpx.AsyncClient) -> dict:
    return (await client.get("/usage")).json()["records"][-1]


async def test_the_embedded_model_embeds_by_meaning_through_the_openai_sdk(sdk, client):
    answer = await sdk.embeddings.create(model="local-embed", input=[GUITAR, INSTRUMENT, MARKETS])
    guitar, instrument, markets = (item.embedding for item in answer.data)
    assert [item.index for item in answer.data] == [0, 1, 2]
    assert len(guitar) == 384 and dot(guitar, guitar) == pytest.approx(1.0, abs=1e-4)
    assert dot(guitar, instrument) > dot(guitar, markets) + 0.3  # close in meaning, or not
    assert answer.model == "local-embed"
    row = await last_row(client)
    assert (row["route"], row["model"], row["status"]) == ("v1/embeddings", "local-embed", 200)
    assert row["input_tokens"] == answer.usage.prompt_tokens == answer.usage.total_tokens > 3 * 5
    assert (row["output_tokens"], row["token_source"]) == (0, "provider")
    assert row["cost_usd"] == pytest.approx(row["input_tokens"] * 100 / 1e6)
    assert row["deployments"].startswith("local-embed:")


async def test_langchains_openai_embeddings_work_unchanged(client, key):
    embeddings = OpenAIEmbeddings(
        model="local-embed", base_url="http://platform/v1", api_key=key,
        http_async_client=client, check_embedding_ctx_length=False, max_retries=0,
    )  # fmt: skip
    guitar, markets = await embeddings.aembed_documents([GUITAR, MARKETS])
    query = await embeddings.aembed_query(INSTRUMENT)
    assert len(query) == 384 and dot(query, guitar) > dot(query, markets)
    rows = (await client.get("/usage")).json()["records"]
    assert [row["route"] for row in rows] == ["v1/embeddings"] * 2


async def test_a_batch_gives_each_text_the_vector_it_gets_alone(client):
    """Texts are encoded in padded batches of similar length: padding must not change them."""
    texts = [f"Sentence number {i} is {'quite ' * (i % 9)}short." for i in range(70)]
    batched = await client.post("/v1/embeddings", json={"model": "local-embed", "input": texts})
    vectors = [item["embedding"] for item in batched.json()["data"]]
    for index in (0, 8, 33, 69):
        alone = await client.post("/v1/embeddings", json={"model": "local-embed",
                                                           "input": texts[index]})  # fmt: skip
        assert alone.json()["data"][0]["embedding"] == pytest.approx(vectors[index], abs=1e-5)


async def test_base64_holds_the_same_little_endian_floats(client):
    body = {"model": "local-embed", "input": GUITAR}
    floats = (await client.post("/v1/embeddings", json=body)).json()["data"][0]["embedding"]
    encoded = await client.post("/v1/embeddings", json={**body, "encoding_format": "base64"})
    raw = base64.b64decode(encoded.json()["data"][0]["embedding"])
    assert list(struct.unpack(f"<{len(raw) // 4}f", raw)) == pytest.approx(floats, abs=1e-6)


async def test_a_providers_embeddings_pass_through_with_its_fallbacks(client):
    body = {"model": "remote", "input": ["one two", "three"], "encoding_format": "float"}
    response = await client.post("/v1/embeddings", json=body)
    assert response.status_code == 200, response.text
    assert [item["embedding"] for item in response.json()["data"]] == [
        vector("one two"),
        vector("three"),
    ]
    assert response.json()["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    row = await last_row(client)
    assert (row["input_tokens"], row["token_source"]) == (3, "provider")
    assert row["deployments"].startswith("openai-compatible:ok@")  # the broken one did no work


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"input": [[101, 2023, 102]]}, "input", "check_embedding_ctx_length=False"),
        ({"input": ["fine", "word " * 300]}, "input[1]", "at most 256"),
        ({"input": GUITAR, "dimensions": 128}, "dimensions", "384 dimensions"),
    ],
)
async def test_what_the_embedded_model_cannot_do_is_a_400_naming_the_field(
    client, body, param, words
):
    response = await client.post("/v1/embeddings", json={"model": "local-embed", **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param and words in error["message"]
    assert (await last_row(client))["status"] == 400  # admitted, then refused: recorded


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "local-embed", "input": []}, "input"),
        ({"model": "local-embed", "input": ""}, "input"),
        ({"model": "local-embed", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x"}, "model"),
    ],
)
async def test_a_malformed_request_is_refused_before_admission(client, body, param):
    response = await client.post("/v1/embeddings", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param, "the field as the client named it"
    assert (await client.get("/usage")).json()["records"] == []


async def test_an_embedding_model_asked_to_chat_names_itself(client):
    body = {"model": "local-embed", "messages": [{"role": "user", "content": "Hi"}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_supported")
    assert "'local-embed'" in error["message"] and "chat/completions" in error["message"]


async def test_another_tenants_embedding_waits_for_one_slice_not_a_whole_batch(platform, client):
    """A batch of 512 texts is 16 slices of 32; a one-line embedding of another tenant sent
    while it runs gets the model's next turn: it is answered long before the batch."""
    platform.tenant("other")
    texts = [f"{GUITAR} Variation {n} of the same sentence, longer." for n in range(512)]
    async with platform.client(platform.key("other")) as other:
        await other.post("/v1/embeddings", json={"model": "local-embed", "input": "warm"})
        started = time.monotonic()
        batch = asyncio.ensure_future(
            client.post("/v1/embeddings", json={"model": "local-embed", "input": texts})
        )
        await asyncio.sleep(0.3)  # the batch has the model
        one = await other.post("/v1/embeddings", json={"model": "local-embed", "input": "Hi"})
        one_done = time.monotonic() - started
        assert (await batch).status_code == 200 and one.status_code == 200
        batch_done = time.monotonic() - started
    assert one_done < batch_done / 2, f"one line after {one_done:.2f} s, batch {batch_done:.2f} s"
