"""/v1/images/generations over the fault upstream, called by the openai SDK: routed to the
image-capable deployments with the chat routes' retries and fallbacks, priced per image by size
and quality, charged against budgets and limited per minute; each answer checked against its
ledger row."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from app.main import create_app
from app.settings import ModelSpec
from tests.support.fault_upstream import PIXEL
from tests.support.tenancy import Platform

PRICES = {"1024x1024/standard": 0.04, "1024x1024/hd": 0.08, "1792x1024": 0.12}


@pytest.fixture
def platform(make_settings, upstream, upstream_app) -> Platform:
    upstream_app.state.hits.clear()

    def remote(model: str, **more: object) -> dict:
        return {"provider": "openai-compatible", "model": model, "base_url": upstream,
                "max_retries": 0, **more}  # fmt: skip

    models = {
        "dalle": ModelSpec(deployments=[remote("unavailable"), remote("ok")], image_prices=PRICES),
        "short": ModelSpec(deployments=[remote("one-short")], image_prices={"*": 0.05}),
        "free": ModelSpec(deployments=[remote("ok")]),
        "azure-dalle": ModelSpec(
            provider="azure",
            model="ok",
            azure_endpoint=upstream.removesuffix("/v1"),
            api_version="2024-10-21",
            api_key="az-x",
            image_prices={"*": 0.04},
        ),
        "text-only": ModelSpec(provider="local-embed"),
    }
    settings = make_settings(auth_enabled=True, models=models, default_model="free")
    platform = Platform(create_app(settings))
    platform.tenant("acme")
    return platform


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with platform.client(platform.key("acme")) as client:
        yield client


def sdk(client: httpx.AsyncClient, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url="http://platform/v1", api_key=key, http_client=client, max_retries=0
    )


async def rows(client: httpx.AsyncClient) -> list[dict]:
    return (await client.get("/usage")).json()["records"]


async def test_images_come_from_the_next_deployment_and_are_priced_by_size_and_quality(
    platform, upstream_app
):
    key = platform.key("acme")
    async with platform.client(key) as client:
        answer = await sdk(client, key).images.generate(
            model="dalle", prompt="A red kite over a beach", n=2, size="1024x1024", quality="hd"
        )
        [row] = await rows(client)
    assert [image.url for image in answer.data] == [
        "https://images.invalid/ok/0.png", "https://images.invalid/ok/1.png"
    ]  # fmt: skip
    assert answer.data[0].revised_prompt == "A picture of: A red kite over a beach"
    assert upstream_app.state.hits["unavailable"] == 1  # tried first, failed over
    assert (row["route"], row["model"], row["status"]) == ("v1/images/generations", "dalle", 200)
    assert row["images"] == 2 and row["cost_usd"] == pytest.approx(2 * 0.08)
    assert row["deployments"].startswith("openai-compatible:ok@")


async def test_base64_images_and_the_defaults_price(client):
    body = {"model": "dalle", "prompt": "A kite", "response_format": "b64_json"}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["b64_json"] == PIXEL
    [row] = await rows(client)
    assert row["cost_usd"] == pytest.approx(0.04)  # 1024x1024 standard, OpenAI's defaults


async def test_only_the_images_made_are_charged(client):
    body = {"model": "short", "prompt": "Three kites", "n": 3}
    response = await client.post("/v1/images/generations", json=body)
    assert len(response.json()["data"]) == 2
    [row] = await rows(client)
    assert row["images"] == 2 and row["cost_usd"] == pytest.approx(2 * 0.05)


async def test_azure_deployments_make_images_too(client, upstream_app):
    body = {"model": "azure-dalle", "prompt": "A kite"}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 200, response.text
    assert upstream_app.state.hits["ok"] == 1  # the deployment named in Azure's path
    assert (await rows(client))[0]["images"] == 1


async def test_an_alias_that_makes_no_images_gets_a_400_naming_it(client):
    body = {"model": "text-only", "prompt": "A kite"}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("model", "model_not_supported")
    assert "'text-only'" in error["message"] and "images/generations" in error["message"]
    assert await rows(client) == []


@pytest.mark.parametrize(
    ("priced_as", "param"),
    [({"size": "512x512"}, "size"), ({"size": "1024x1024", "quality": "low"}, "quality")],
)
async def test_a_size_or_quality_without_a_price_is_refused_naming_the_priced_ones(
    client, priced_as, param
):
    """The param is what to change: the size, or, for a size priced in other qualities only,
    the quality."""
    body = {"model": "dalle", "prompt": "A kite", **priced_as}
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == param and "1024x1024/hd" in error["message"]
    assert await rows(client) == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "dalle", "prompt": ""}, "prompt"),
        ({"model": "dalle", "prompt": "x", "n": 11}, "n"),
        ({"model": "dalle", "prompt": "x", "size": "big"}, "size"),
        ({"model": "dalle", "prompt": "x", "quality": "ultra"}, "quality"),
        ({"model": "dalle", "prompt": "x", "response_format": "gif"}, "response_format"),
    ],
)
async def test_a_malformed_request_is_a_400_naming_the_field(client, body, param):
    response = await client.post("/v1/images/generations", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert await rows(client) == []


async def test_images_are_charged_against_the_budget(platform):
    platform.tenant("thrifty", budget_usd=0.10)
    async with platform.client(platform.key("thrifty")) as client:
        body = {"model": "dalle", "prompt": "A kite", "n": 2}  # 0.08
        assert (await client.post("/v1/images/generations", json=body)).status_code == 200
        refused = await client.post("/v1/images/generations", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "budget_exceeded"
        assert [row["status"] for row in await rows(client)] == [200]


async def test_images_per_minute_are_limited_for_the_tenant_and_the_key(platform):
    platform.tenant("painter", ipm=3)
    async with platform.client(platform.key("painter")) as client:
        body = {"model": "free", "prompt": "A kite", "n": 2}
        assert (await client.post("/v1/images/generations", json=body)).status_code == 200
        refused = await client.post("/v1/images/generations", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "ipm_exceeded"
        assert "3 images per minute for tenant 'painter'" in refused.json()["error"]["message"]
        assert 55 <= int(refused.headers["Retry-After"]) <= 60
        one = {**body, "n": 1}  # what is left of the minute's three
        assert (await client.post("/v1/images/generations", json=one)).status_code == 200
        chat = {"model": "free", "messages": [{"role": "user", "content": "Hi"}]}
        assert (await client.post("/v1/chat/completions", json=chat)).status_code == 200
    platform.tenant("studio")
    async with platform.client(platform.key("studio", ipm=1)) as client:
        body = {"model": "free", "prompt": "A kite", "n": 2}
        refused = await client.post("/v1/images/generations", json=body)
        assert refused.status_code == 429 and "this key" in refused.json()["error"]["message"]


async def test_an_admin_sets_a_tenants_images_per_minute(platform):
    platform.tenant("admins")
    async with platform.client(platform.key("admins", admin=True)) as admin:
        created = await admin.post("/admin/tenants", json={"id": "gallery", "ipm": 5})
        assert created.status_code == 201, created.text
        assert created.json()["ipm"] == 5
        bad = await admin.patch("/admin/tenants/gallery", json={"ipm": 0})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "ipm"
        changed = await admin.patch("/admin/tenants/gallery", json={"ipm": 7})
        assert changed.json()["ipm"] == 7


PNG = base64.b64decode(PIXEL)


async def test_an_edit_sends_the_images_and_mask_on_as_a_form_and_is_billed(platform, upstream_app):
    key = platform.key("acme")
    async with platform.client(key) as client:
        answer = await sdk(client, key).images.edit(
            model="dalle", prompt="Add a kite", n=2, size="1024x1024",
            image=[("a.png", PNG, "image/png"), ("b.png", PNG, "image/png")],
            mask=("mask.png", PNG, "image/png"),
        )  # fmt: skip
        [row] = await rows(client)
    assert [image.url for image in answer.data] == [
        "https://images.invalid/ok/edit-0.png", "https://images.invalid/ok/edit-1.png"
    ]  # fmt: skip
    sent = upstream_app.state.bodies["ok"]
    assert (sent["prompt"], sent["n"], sent["model"]) == ("Add a kite", "2", "ok")
    assert sent["files"] == [
        ("image[]", "a.png", len(PNG)), ("image[]", "b.png", len(PNG)),
        ("mask", "mask.png", len(PNG)),
    ]  # fmt: skip
    assert upstream_app.state.hits["unavailable"] == 1  # the form was sent again, to the next
    assert (row["route"], row["images"]) == ("v1/images/edits", 2)
    assert row["cost_usd"] == pytest.approx(2 * 0.04)


@pytest.mark.parametrize(
    ("files", "fields", "param"),
    [
        ({"image": ("a.txt", b"not an image", "text/plain")}, {"prompt": "x"}, "image"),
        ({"prompt": (None, "x")}, {}, "image"),  # a form of text parts alone
        ({"image": ("a.png", PNG, "image/png")}, {}, "prompt"),
        ({"image": ("a.png", PNG, "image/png")}, {"prompt": "x", "n": "eleven"}, "n"),
        ({"image": ("a.png", PNG, "image/png"), "prompt": ("p.txt", b"x")}, {}, "prompt"),
    ],
)
async def test_a_malformed_edit_is_a_400_naming_the_field(client, files, fields, param):
    response = await client.post("/v1/images/edits", data={"model": "dalle", **fields}, files=files)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"].startswith(param)
    assert await rows(client) == []


async def test_an_edit_sent_as_json_is_a_415_naming_the_form(client):
    response = await client.post("/v1/images/edits", json={"model": "dalle", "prompt": "x"})
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["error"]["message"]


async def test_an_upload_may_be_larger_than_a_json_body_but_not_than_the_upload_limit(
    make_settings, upstream
):
    models = {"ok": ModelSpec(provider="openai-compatible", model="ok", base_url=upstream)}
    settings = make_settings(models=models, default_model="ok", max_body_bytes=2048,
                             max_upload_bytes=200_000)  # fmt: skip
    platform = Platform(create_app(settings))
    async with platform.client() as client:
        big = PNG + b"\0" * 50_000
        fine = await client.post("/v1/images/edits", data={"model": "ok", "prompt": "x"},
                                 files={"image": ("a.png", big, "image/png")})  # fmt: skip
        assert fine.status_code == 200, fine.text
        huge = await client.post("/v1/images/edits", data={"model": "ok", "prompt": "x"},
                                 files={"image": ("a.png", big * 5, "image/png")})  # fmt: skip
        assert huge.status_code == 413 and "GENAI_MAX_UPLOAD_BYTES" in huge.text
        text = await client.post("/v1/embeddings", json={"model": "ok", "input": "x" * 4000})
        assert text.status_code == 413  # JSON keeps its own, smaller limit
