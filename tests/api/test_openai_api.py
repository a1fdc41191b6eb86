"""/v1 with the official openai SDK and LangChain's ChatOpenAI, over our fault upstream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from tests.support.servers import serving
from tests.support.tenancy import Platform

HELLO = "fault upstream says hello"
MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def platform(make_settings, upstream, upstream_app) -> Platform:
    upstream_app.state.hits.clear()

    def deployment(model: str, retries: int = 0) -> dict:
        return {"provider": "openai-compatible", "model": model, "base_url": upstream,
                "max_retries": retries, "timeout": 5}  # fmt: skip

    models = {
        "ok": ModelSpec(deployments=[deployment("ok")]),
        "fallback": ModelSpec(deployments=[deployment("rate-limited"), deployment("ok")]),
        "retried": ModelSpec(deployments=[deployment("unavailable", retries=2), deployment("ok")]),
        "flaky": ModelSpec(deployments=[deployment("unavailable"), deployment("ok")]),
        "refusing-500": ModelSpec(deployments=[deployment("broken"), deployment("ok")]),
        "via-openai": ModelSpec(provider="openai", model="ok", base_url=upstream, api_key="sk-x"),
        "via-azure": ModelSpec(
            provider="azure",
            model="ok",
            azure_endpoint=upstream.removesuffix("/v1"),
            api_version="2024-10-21",
            api_key="az-x",
        ),
        "drop": ModelSpec(deployments=[deployment("drop")]),
        "slow": ModelSpec(deployments=[deployment("slow")]),
    }
    settings = make_settings(auth_enabled=True, models=models, default_model="ok")
    platform = Platform(create_app(settings))
    platform.tenant("acme")
    return platform


@pytest.fixture
async def sdk(platform: Platform) -> AsyncIterator[openai.AsyncOpenAI]:
    async with platform.client() as http:
        yield openai.AsyncOpenAI(
            base_url="http://platform/v1", api_key=platform.key("acme"), http_client=http,
            max_retries=0,
        )  # fmt: skip


async def test_chat_completion_answers_in_openais_shape(sdk: openai.AsyncOpenAI):
    raw = await sdk.chat.completions.with_raw_response.create(model="ok", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == HELLO
    assert completion.choices[0].message.refusal is None
    assert completion.model == "ok" and completion.object == "chat.completion"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 4)
    assert timings(raw.http_response)[1] > 0


async def test_streamed_chat_reports_usage_when_asked(sdk: openai.AsyncOpenAI):
    stream = await sdk.chat.completions.create(
        model="ok", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == HELLO
    assert all(chunk.object == "chat.completion.chunk" and chunk.model == "ok" for chunk in chunks)
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens > 0 and usage.prompt_tokens > 0


async def test_sampling_parameters_reach_the_provider(sdk: openai.AsyncOpenAI, upstream_app):
    await sdk.chat.completions.create(
        model="ok", messages=MESSAGES, n=1, stop=["\n"], temperature=0.3, top_p=0.9, seed=7,
        max_completion_tokens=20, response_format={"type": "json_object"},
        extra_body={"presence_penalty": 0.5},
    )  # fmt: skip
    sent = upstream_app.state.bodies["ok"]
    assert sent["messages"] == MESSAGES and sent["model"] == "ok"
    expected = {"n": 1, "stop": ["\n"], "temperature": 0.3, "top_p": 0.9, "seed": 7,
                "response_format": {"type": "json_object"}, "presence_penalty": 0.5}  # fmt: skip
    assert {key: sent[key] for key in expected} == expected
    # An OpenAI-compatible server (llama.cpp, vLLM) knows max_tokens, not its newer name.
    assert sent["max_tokens"] == 20 and "max_completion_tokens" not in sent


@pytest.mark.parametrize("alias", ["via-openai", "via-azure"])
async def test_openai_and_azure_deployments_are_reached_in_their_dialects(sdk, alias):
    completion = await sdk.chat.completions.create(model=alias, messages=MESSAGES)
    assert completion.choices[0].message.content == HELLO and completion.model == alias


async def test_legacy_completions_plain_and_streamed(sdk: openai.AsyncOpenAI):
    completion = await sdk.completions.create(model="ok", prompt="Once")
    assert completion.choices[0].text == HELLO and completion.object == "text_completion"
    stream = await sdk.completions.create(model="ok", prompt="Once", stream=True)
    assert "".join([chunk.choices[0].text async for chunk in stream]) == HELLO


async def test_models_lists_only_the_tenants_aliases(platform: Platform):
    platform.tenant("narrow", allowed_models=["ok", "drop"])
    async with platform.client() as http:
        sdk = openai.AsyncOpenAI(base_url="http://platform/v1", api_key=platform.key("narrow"),
                                 http_client=http, max_retries=0)  # fmt: skip
        models = await sdk.models.list()
        assert [model.id for model in models.data] == ["ok", "drop"]
        assert all(model.created > 0 and model.object == "model" for model in models.data)
        with pytest.raises(openai.NotFoundError):
            await sdk.models.retrieve("slow")
        with pytest.raises(openai.PermissionDeniedError, match="may not use model 'slow'"):
            await sdk.chat.completions.create(model="slow", messages=MESSAGES)


async def test_error_shapes_raise_the_sdks_usual_exceptions(platform, sdk):
    with pytest.raises(openai.NotFoundError) as unknown:
        await sdk.chat.completions.create(model="gpt-9", messages=MESSAGES)
    assert (
        unknown.value.body["code"] == "model_not_found" and unknown.value.body["param"] == "model"
    )
    with pytest.raises(openai.BadRequestError) as invalid:
        await sdk.chat.completions.create(model="ok", messages=MESSAGES, temperature=7)
    assert invalid.value.body["param"] == "temperature"
    with pytest.raises(openai.AuthenticationError):
        await openai.AsyncOpenAI(base_url="http://platform/v1", api_key="wrong",
                                 http_client=sdk._client, max_retries=0).models.list()  # fmt: skip
    async with platform.client(platform.key("acme")) as http:
        bad_json = await http.post("/v1/chat/completions", content=b"{nope",
                                   headers={"content-type": "application/json"})  # fmt: skip
        assert bad_json.status_code == 400
        assert bad_json.json()["error"]["code"] == "invalid_json"
        huge = await http.post("/v1/chat/completions", json={"model": "ok", "messages": [
            {"role": "user", "content": "x" * 2_000_000}]})  # fmt: skip
        assert huge.status_code == 413
        assert set(huge.json()["error"]) == {"message", "type", "param", "code"}


async def test_a_tenants_limit_is_a_rate_limit_error(platform: Platform):
    platform.tenant("tiny", rpm=1)
    async with platform.client() as http:
        sdk = openai.AsyncOpenAI(base_url="http://platform/v1", api_key=platform.key("tiny"),
                                 http_client=http, max_retries=0)  # fmt: skip
        await sdk.chat.completions.create(model="ok", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(model="ok", messages=MESSAGES)
    assert int(refused.value.response.headers["retry-after"]) >= 1


async def test_a_rate_limited_deployment_falls_back_before_the_first_byte(sdk, upstream_app):
    completion = await sdk.chat.completions.create(model="fallback", messages=MESSAGES)
    assert completion.choices[0].message.content == HELLO
    assert upstream_app.state.hits["rate-limited"] == 1
    assert upstream_app.state.hits["ok"] == 1


async def test_a_failing_deployment_is_retried_then_skipped_by_its_circuit(sdk, upstream_app):
    for _ in range(3):  # each: 1 try + 2 retries with backoff on the 503 one, then fallback
        completion = await sdk.chat.completions.create(model="retried", messages=MESSAGES)
        assert completion.choices[0].message.content == HELLO
    assert upstream_app.state.hits["unavailable"] == 9
    await sdk.chat.completions.create(model="retried", messages=MESSAGES)
    assert upstream_app.state.hits["unavailable"] == 9  # its circuit is open: not even tried
    assert upstream_app.state.hits["ok"] == 4


async def test_a_500_falls_over_but_never_opens_the_circuit(sdk, upstream_app):
    """A provider's 500 may be the request's own doing (llama.cpp answers one to a bad
    sampling parameter): the next deployment answers, and no number of them opens the
    circuit, which every tenant would then find open."""
    for _ in range(5):
        completion = await sdk.chat.completions.create(model="refusing-500", messages=MESSAGES)
        assert completion.choices[0].message.content == HELLO
    assert upstream_app.state.hits["broken"] == 5  # tried every time, once: not retried


async def test_chains_and_v1_share_the_circuit_of_a_failing_deployment(platform, sdk, upstream_app):
    body = {"input": {"text": "Once"}, "config": {"configurable": {"model": "flaky"}}}
    async with platform.client(platform.key("acme")) as http:
        for _ in range(3):  # the chain falls back to the second deployment each time
            response = await http.post("/complete/invoke", json=body)
            assert response.json()["output"] == HELLO
        assert upstream_app.state.hits["unavailable"] == 3
        streamed = await http.post("/complete/stream", json=body)
        assert HELLO.split()[0] in streamed.text
    completion = await sdk.chat.completions.create(model="flaky", messages=MESSAGES)
    assert completion.choices[0].message.content == HELLO
    assert upstream_app.state.hits["unavailable"] == 3  # open: skipped by chains and /v1


async def test_a_stream_cut_by_the_provider_ends_with_an_error_not_done(platform, sdk):
    stream = await sdk.chat.completions.create(model="drop", messages=MESSAGES, stream=True)
    received = []
    with pytest.raises(openai.APIError, match="incomplete"):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "fault upstream says "
    async with platform.client(platform.key("acme")) as http:
        body = {"model": "drop", "messages": MESSAGES, "stream": True}
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
    assert "[DONE]" not in lines[-1]
    assert json.loads(lines[-1][5:])["error"]["code"] == "provider_cut"


async def test_langchain_chat_openai_works_against_the_platform(platform: Platform):
    async with platform.client() as http:
        model = ChatOpenAI(base_url="http://platform/v1", api_key=platform.key("acme"),
                           model="ok", http_async_client=http, max_retries=0)  # fmt: skip
        assert (await model.ainvoke("Hi")).content == HELLO
        assert "".join([chunk.content async for chunk in model.astream("Hi")]) == HELLO


async def _close_after(seconds: float, work) -> float:  # type: ignore[no-untyped-def]
    """Run `work` and give up on it after `seconds`; returns when the client went away."""
    task = asyncio.ensure_future(work)
    await asyncio.sleep(seconds)
    task.cancel()
    left = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    return left


async def _upstream_closed(app: Starlette, since: float) -> float:
    for _ in range(200):
        closed = app.state.closed_at.get("slow")
        if closed is not None and closed >= since - 0.5:
            return closed - since
        await asyncio.sleep(0.01)
    raise AssertionError("the upstream request was never closed")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "slow", "messages": MESSAGES, "stream": True}),
        ("/v1/chat/completions", {"model": "slow", "messages": MESSAGES}),
        ("/v1/completions", {"model": "slow", "prompt": "Once"}),
        ("/complete/invoke", {"input": {"text": "Once"},
                              "config": {"configurable": {"model": "slow"}}}),
        ("/complete/stream", {"input": {"text": "Once"},
                              "config": {"configurable": {"model": "slow"}}}),
    ],
)  # fmt: skip
async def test_a_client_leaving_closes_the_upstream_request_within_100_ms(
    platform, upstream_app, path, body
):
    upstream_app.state.closed_at.clear()
    with serving(platform.app) as url:
        headers = {"Authorization": f"Bearer {platform.key('acme')}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:

            async def request() -> None:
                async with client.stream("POST", path, json=body) as response:
                    async for _ in response.aiter_bytes():
                        pass

            left = await _close_after(0.5, request())
            delay = await _upstream_closed(upstream_app, left)
            await asyncio.sleep(0.2)
            rows = (await client.get("/usage")).json()["records"]
    assert delay <= 0.1, f"the upstream request stayed open {delay * 1000:.0f} ms"
    [row] = [row for row in rows if row["model"] == "slow"]
    assert (row["status"], row["interrupted"]) == (499, True)
    if body.get("stream") or path.endswith("/stream"):
        assert row["output_tokens"] > 0  # what was streamed before the client left counts


def timings(response: httpx.Response) -> tuple[float, float]:
    platform_ms, upstream_ms = response.headers["server-timing"].split(", ")
    assert platform_ms.startswith("platform;dur=") and upstream_ms.startswith("upstream;dur=")
    return float(platform_ms.split("=")[1]), float(upstream_ms.split("=")[1])


async def test_every_response_carries_server_timing_and_a_request_id(platform: Platform):
    async with platform.client(platform.key("acme")) as http:
        v1 = await http.post("/v1/chat/completions", json={"model": "ok", "messages": MESSAGES})
        chain = await http.post("/complete/invoke", json={"input": {"text": "Once"}})
        error = await http.post("/v1/chat/completions", json={"model": "gpt-9", "messages": []})
        given = await http.get("/v1/models", headers={"X-Request-Id": "trace-42"})
    for response, upstream_used in ((v1, True), (chain, True), (error, False)):
        platform_ms, upstream_ms = timings(response)
        assert platform_ms >= 0 and (upstream_ms > 0) == upstream_used
        assert len(response.headers["x-request-id"]) == 32
    assert given.headers["x-request-id"] == "trace-42"
