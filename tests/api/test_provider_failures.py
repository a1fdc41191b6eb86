"""Provider failures reach clients as 502 / 504 / 429 with a message, on invoke and mid-stream.

The models are real OpenAI clients talking HTTP to our fault-injecting upstream on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.providers.http import proxy_for
from app.providers.local_server import free_loopback_port
from app.settings import ModelSpec
from tests.conftest import asgi_client
from tests.support.sse import read_events


@pytest.fixture
async def client(make_settings, upstream) -> AsyncIterator[httpx.AsyncClient]:
    def spec(model: str, base_url: str = upstream, timeout: float = 5) -> ModelSpec:
        return ModelSpec(
            provider="openai-compatible",
            model=model,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )

    models = {
        "ok": spec("ok"),
        "unreachable": spec("ok", base_url=f"http://127.0.0.1:{free_loopback_port()}/v1"),
        "hang": spec("hang", timeout=0.5),
        "limited": spec("rate-limited"),
        "broken": spec("broken"),
        "drop": spec("drop"),
    }
    app = create_app(make_settings(models=models, default_model="ok"))
    async with asgi_client(app) as client:
        yield client


def body(model: str) -> dict:
    return {"input": {"text": "Once"}, "config": {"configurable": {"model": model}}}


async def test_a_working_provider_answers(client: httpx.AsyncClient):
    response = await client.post("/complete/invoke", json=body("ok"))
    assert response.json()["output"] == "fault upstream says hello"


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        ("unreachable", 502, "provider_unreachable"),
        ("hang", 504, "provider_timeout"),
        ("limited", 429, "provider_rate_limited"),
        ("broken", 502, "provider_failed"),
    ],
)
async def test_invoke_maps_provider_failures(client, model, status, code):
    response = await client.post("/complete/invoke", json=body(model))
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert "retry" in error["message"].lower()
    assert "Internal Server Error" not in response.text


async def test_rate_limit_passes_retry_after_on(client: httpx.AsyncClient):
    response = await client.post("/complete/invoke", json=body("limited"))
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("model", "status"), [("unreachable", 502), ("hang", 504), ("limited", 429), ("broken", 502)]
)
async def test_stream_failing_before_output_ends_with_the_real_error(client, model, status):
    events = await read_events(client, "/complete/stream", body(model))
    assert events[-1].event == "error"
    assert events[-1].json()["status_code"] == status
    assert "Internal Server Error" not in events[-1].data


async def test_stream_cut_by_the_provider_ends_with_an_error_not_end(client):
    events = await read_events(client, "/complete/stream", body("drop"))
    kinds = [event.event for event in events]
    assert kinds.count("data") >= 2  # part of the answer arrived
    assert "end" not in kinds
    error = events[-1]
    assert error.event == "error"
    assert error.json()["status_code"] == 502
    assert error.json()["code"] == "provider_cut"  # not "unreachable": it answered, then cut


async def test_stream_log_and_stream_events_carry_the_real_error_too(client):
    for route in ("/complete/stream_log", "/complete/stream_events"):
        events = await read_events(client, route, body("limited"))
        assert events[-1].event == "error"
        assert events[-1].json()["status_code"] == 429


async def test_provider_calls_go_through_the_proxy_the_environment_names(
    make_settings, upstream, monkeypatch
):
    """A provider behind a corporate proxy: HTTP(S)_PROXY is honoured, as by the OpenAI SDK.
    The provider's host does not resolve; the fault upstream plays the proxy."""
    monkeypatch.delenv("http_proxy", raising=False)  # the lower-case name would win
    monkeypatch.setenv("HTTP_PROXY", upstream.removesuffix("/v1"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    spec = ModelSpec(provider="openai-compatible", model="ok",
                     base_url="http://provider.invalid/v1", max_retries=0)  # fmt: skip
    app = create_app(make_settings(models={"proxied": spec}, default_model="proxied"))
    async with asgi_client(app) as client:
        response = await client.post("/v1/chat/completions", json={
            "model": "proxied", "messages": [{"role": "user", "content": "Once"}]})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "fault upstream says hello"


def test_no_proxy_names_the_hosts_called_directly(monkeypatch):
    monkeypatch.delenv("https_proxy", raising=False)  # the lower-case name would win
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,internal.example")
    monkeypatch.delenv("no_proxy", raising=False)
    assert proxy_for("https://api.openai.com/v1") == "http://proxy.example:3128"
    assert proxy_for("https://internal.example/v1") is None
    assert proxy_for("http://127.0.0.1:8080/v1") is None  # the embedded model's server
