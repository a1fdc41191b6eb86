"""Metering by construction: every route that can reach a model is admitted, allow-listed,
priced and recorded, whichever way it names its model, and nothing reaches one unmetered.

The models are the platform's own, over HTTP to the fault upstream
(tests/support/fault_upstream.py).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import orjson
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from langchain_core.messages import HumanMessage
from langserve.lzstring import LZString
from starlette.routing import Mount

from app.api.deps import MeteredEndpoint
from app.errors import PlatformError
from app.main import create_app
from app.settings import ModelSpec
from app.usage.lifecycle import TEMPLATE_ALLOWANCE
from tests.conftest import api_routes, mounted
from tests.support.fault_upstream import PIXEL
from tests.support.tenancy import Platform

#: An input for each use case; a new use case needs one here (the test says so).
INPUTS: dict[str, Any] = {
    "assist": {"question": "What is new?"},
    "generate": {"prompt": "Name a colour."},
    "complete": {"text": "Once upon"},
    "summarize": {"text": "The council approved a park."},
    "chat": {"messages": [{"type": "human", "content": "Hello"}]},
    "code": {"task": "Add two numbers.", "language": "python"},
}
#: POST routes that reach no model: a new POST route must be metered or listed here.
NOT_MODEL_CALLS = {
    "/admin/tenants",
    "/admin/tenants/{tenant_id}/keys",
    "/admin/keys/{key_id}/revoke",
    "/admin/tool-servers",  # registers a server: its tools' calls are metered (tests/api/mcp)
    "/chat/sessions/{session_id}/rename",
    "/signin",
    "/signout",
    "/v1/{path:path}",  # what /v1 does not serve: a 404 or 405 (not_served.py)
    "/v1/messages/count_tokens",  # counted by the platform, as the ledger counts a prompt
    "/v1/responses/{response_id}/cancel",  # stops a call the response's own request metered
    "/v1/files",  # keeps a file
    "/v1/batches",  # keeps the lines: each is metered as it runs (test_batches.py)
    "/v1/batches/{batch_id}/cancel",
}
PNG = base64.b64decode(PIXEL)


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    def alias(price: float) -> ModelSpec:
        return ModelSpec(
            provider="openai-compatible", model="ok", base_url=upstream, max_retries=0,
            input_price_per_million=price, output_price_per_million=2 * price,
            image_prices={"*": price / 1000},
        )  # fmt: skip

    models = {"cheap": alias(0.0), "priced": alias(1000.0)}
    settings = make_settings(auth_enabled=True, models=models, default_model="cheap")
    platform = Platform(mounted(create_app(settings)))  # every route is enumerated
    platform.tenant("payer")
    platform.tenant("narrow", allowed_models=["cheap"])
    platform.tenant("one-a-minute", rpm=1)
    return platform


def _share_link(configurable: dict[str, Any]) -> str:
    return LZString.compressToEncodedURIComponent(json.dumps({"configurable": configurable}))


async def call_model(client: httpx.AsyncClient, path: str, model: str) -> httpx.Response:
    """POST a request to a model-calling route that names `model` the way the route lets it."""
    if path == "/v1/images/edits":  # a form, with the image to edit
        fields = {"model": model, "prompt": "Add a kite", "n": "2"}
        return await client.post(path, data=fields, files={"image": ("a.png", PNG, "image/png")})
    if path.endswith("/file"):  # a document, the model named in the form
        document = {"file": ("notes.txt", b"The council approved a park.", "text/plain")}
        return await client.post(path, data={"model": model}, files=document)
    sent, body = model_call(path, model)
    return await client.post(sent, json=body)


def model_call(path: str, model: str) -> tuple[str, dict[str, Any]]:
    """A JSON request to a model-calling route that names `model` the way the route lets it."""
    if path in ("/v1/embeddings", "/v1/moderations"):
        return path, {"model": model, "input": ["Once upon", "a time"]}
    if path == "/v1/images/generations":
        return path, {"model": model, "prompt": "A red kite", "n": 2}
    if path.startswith("/v1/"):
        body: dict[str, Any] = {"model": model, "max_tokens": 16}
        if path.endswith(("/chat/completions", "/messages")):
            return path, {**body, "messages": [{"role": "user", "content": "Hi"}]}
        if path.endswith("/responses"):
            return path, {"model": model, "max_output_tokens": 16, "input": "Hi"}
        return path, {**body, "prompt": "Once"}
    use_case, endpoint = path.split("/")[1], path.rsplit("/", 1)[1]
    assert use_case in INPUTS, f"add an input for the use case '{use_case}' to INPUTS"
    config = {"configurable": {"model": model}}
    if "{config_hash}" in path:  # the model is named only by the share link
        path, config = path.replace("{config_hash}", _share_link(config["configurable"])), {}
    if endpoint == "batch":  # one config per input
        return path, {"inputs": [INPUTS[use_case]] * 2, "config": [config, config]}
    return path, {"input": INPUTS[use_case], "config": config}


def refusal(path: str, response: httpx.Response) -> tuple[str, str]:
    """What a refusal says, in its route's dialect: OpenAI's code, or Anthropic's error type
    (Anthropic's shape has no code), given as the pair the caller expects."""
    error = response.json()["error"]
    if path.startswith("/v1/messages"):
        assert response.json()["type"] == "error", response.text
        kinds = {"permission_error": "model_not_allowed", "rate_limit_error": "rpm_exceeded"}
        return kinds[error["type"]], error["type"]
    kinds = {"model_not_allowed": "permission_error", "rpm_exceeded": "rate_limit_error"}
    return error["code"], kinds[error["code"]]


def model_routes(platform: Platform) -> list[str]:
    """Every POST route; each must take the request's metering or be listed as reaching no
    model."""
    found = []
    for route in api_routes(platform.app):
        if "POST" not in route.methods:
            continue
        metered = isinstance(route.endpoint, MeteredEndpoint)
        if route.path in NOT_MODEL_CALLS:
            assert not metered, route.path
            continue
        assert metered, f"POST {route.path} reaches no metering: meter it or list it"
        found.append(route.path)
    return found


async def test_every_model_route_is_found(platform: Platform):
    routes = model_routes(platform)
    for use_case in INPUTS:
        for endpoint in ("invoke", "batch", "stream", "stream_log", "stream_events"):
            assert f"/{use_case}/{endpoint}" in routes
            assert f"/{use_case}/c/{{config_hash}}/{endpoint}" in routes
    assert {"/v1/chat/completions", "/v1/completions"} <= set(routes)


#: Routes served outside FastAPI's (no dependencies to check), each metered its own way and
#: tested for it: a new one must be listed here with where that is tested.
OUTSIDE_FASTAPI = {
    "/mcp": "tests/api/mcp: each tool call is admitted and metered as its use case's invoke",
}


async def test_every_route_outside_fastapi_is_known_to_be_metered(platform: Platform):
    found = {
        context.path
        for context in iter_route_contexts(platform.app.routes)
        if not isinstance(context.original_route, APIRoute | Mount)
        and "POST" in (getattr(context.original_route, "methods", None) or ())
    }
    assert found == set(OUTSIDE_FASTAPI)


async def test_every_model_route_is_priced_and_recorded_once(platform: Platform):
    async with platform.client(platform.key("payer")) as client:
        for path in model_routes(platform):
            response = await call_model(client, path, "priced")
            assert response.status_code == 200, (path, response.text)
            assert '"error":{' not in response.text and "event: error" not in response.text, path
            rows = (await client.get("/usage")).json()["records"]
            row = rows[-1]
            assert (row["status"], row["model"]) == (200, "priced"), path
            # Embeddings, moderations and images generate no text tokens.
            generates = not path.startswith(("/v1/embeddings", "/v1/moderations", "/v1/images/"))
            assert row["input_tokens"] > 0 and (row["output_tokens"] > 0) == generates, path
            assert row["images"] == (2 if "/images/" in path else 0), path
            expected = (row["input_tokens"] * 1000 + row["output_tokens"] * 2000) / 1e6
            assert row["cost_usd"] == pytest.approx(expected + row["images"] * 1.0), path
        assert len(rows) == len(model_routes(platform))  # exactly one row per request


async def test_every_model_route_refuses_a_model_outside_the_allow_list(platform: Platform):
    async with platform.client(platform.key("narrow")) as client:
        for path in model_routes(platform):
            response = await call_model(client, path, "priced")
            assert response.status_code == 403, (path, response.text)
            assert refusal(path, response) == ("model_not_allowed", "permission_error")
        assert (await client.get("/usage")).json()["records"] == []


async def test_every_model_route_is_admitted_against_the_tenants_limits(platform: Platform):
    for path in model_routes(platform):
        tenant = f"rpm-{len(path)}-{abs(hash(path)) % 10**6}"
        platform.tenant(tenant, rpm=1)
        async with platform.client(platform.key(tenant)) as client:
            assert (await call_model(client, path, "cheap")).status_code == 200, path
            refused = await call_model(client, path, "cheap")
            assert refused.status_code == 429, path
            assert refusal(path, refused) == ("rpm_exceeded", "rate_limit_error")


async def test_a_batch_names_a_model_per_input_and_each_is_checked_and_priced(platform):
    mixed = {
        "inputs": [INPUTS["generate"], INPUTS["generate"]],
        "config": [{"configurable": {"model": "cheap"}}, {"configurable": {"model": "priced"}}],
    }
    async with platform.client(platform.key("narrow")) as narrow:
        refused = await narrow.post("/generate/batch", json=mixed)
    assert refused.status_code == 403 and "'priced'" in refused.json()["error"]["message"]
    async with platform.client(platform.key("payer")) as payer:
        response = await payer.post("/generate/batch", json=mixed)
        assert response.status_code == 200, response.text
        [row] = (await payer.get("/usage")).json()["records"]
    assert row["model"] == "cheap,priced" and row["token_source"] == "provider"
    assert (row["input_tokens"], row["output_tokens"]) == (10, 8)  # 5 + 4 reported per call
    assert row["cost_usd"] == pytest.approx((5 * 1000 + 4 * 2000) / 1e6)  # the priced call


async def test_a_budget_is_charged_for_every_batch_item(platform):
    """The budget fits one batch's reservation (its upper bound) and half of what a batch
    really costs more: a second batch is refused only if the first one was charged."""
    item = INPUTS["generate"]
    reserved = 3 * (len(orjson.dumps(item)) + TEMPLATE_ALLOWANCE + 4) * 2000 / 1e6
    costs = 3 * (5 * 1000 + 4 * 2000) / 1e6  # each call reports 5 input and 4 output tokens
    platform.tenant("budgeted", budget_usd=reserved + costs / 2)
    body = {"inputs": [item] * 3, "config": {"configurable": {"model": "priced", "max_tokens": 4}}}
    async with platform.client(platform.key("budgeted")) as client:
        first = await client.post("/generate/batch", json=body)
        assert first.status_code == 200, first.text
        again = await client.post("/generate/batch", json=body)
        [row] = (await client.get("/usage")).json()["records"]
    assert row["cost_usd"] == pytest.approx(costs)
    assert again.status_code == 429 and again.json()["error"]["code"] == "budget_exceeded"


async def test_an_invalid_request_is_refused_before_admission(platform: Platform, caplog):
    async with platform.client(platform.key("one-a-minute")) as client:
        for path, body in (
            ("/generate/invoke", {"input": {}}),
            ("/generate/batch", {"inputs": [{"prompt": "ok"}, {"prompt": ""}]}),
            ("/generate/batch", {"inputs": []}),
            ("/generate/batch", {"inputs": [{"prompt": "ok"}], "config": [[1]]}),
            ("/generate/batch", {"inputs": [{"prompt": "ok"}], "config": [{}, {}]}),
            ("/generate/c/not-a-hash/invoke", {"input": {"prompt": "x"}}),
            ("/v1/chat/completions", {"model": "cheap", "messages": []}),
        ):
            response = await client.post(path, json=body)
            assert 400 <= response.status_code < 500 and response.status_code != 429, path
        batch = await client.post("/generate/batch", json={"inputs": [{"prompt": "ok"}, {}]})
        assert batch.json()["error"]["param"] == "inputs.1.prompt"
        # Nothing was admitted: the one request a minute is still there, and no row.
        assert (await client.post("/generate/invoke", json={"input": {"prompt": "x"}})).is_success
        [row] = (await client.get("/usage")).json()["records"]
    assert row["status"] == 200
    assert [r.message for r in caplog.records if r.levelname == "ERROR"] == []  # no traceback


async def test_a_model_cannot_be_called_outside_an_admitted_request(platform: Platform):
    model = platform.services.providers.models["cheap"]
    with pytest.raises(PlatformError, match="outside an admitted request"):
        await model.ainvoke([HumanMessage("Hi")])
    with pytest.raises(PlatformError, match="outside an admitted request"):
        [chunk async for chunk in model.astream([HumanMessage("Hi")])]
