"""The use cases load after startup: /v1 answers before them, a request for one waits until
they are mounted, and a use case that cannot be loaded is a 503 naming it (and /ready says
so) while /v1 goes on."""

from __future__ import annotations

import pytest

from app.main import create_app
from app.use_cases import registry
from tests.conftest import asgi_client
from tests.support.upstream_config import fault_aliases


@pytest.fixture
def app(make_settings, upstream):
    return create_app(make_settings(models=fault_aliases(upstream, "ok"), default_model="ok"))


async def test_v1_answers_before_the_use_cases_and_a_use_case_waits_for_them(app):
    mounting = app.state.use_cases
    async with asgi_client(app) as client:
        answered = await client.post("/v1/chat/completions", json={
            "model": "ok", "messages": [{"role": "user", "content": "Hi"}]})  # fmt: skip
        assert answered.status_code == 200
        assert not mounting.ready, "/v1 did not wait for the use cases"
        chain = await client.post("/generate/invoke", json={"input": {"prompt": "Hi"}})
        assert chain.status_code == 200, "the first use-case request waited for them"
        assert mounting.ready
        me = (await client.get("/me")).json()
    assert "generate" in {use_case["name"] for use_case in me["use_cases"]}


async def test_a_use_case_that_cannot_be_loaded_is_a_503_and_v1_goes_on(app, monkeypatch):
    def broken() -> list:
        raise ImportError("chains/broken.py: no module named 'missing'")

    monkeypatch.setattr(registry, "discover_use_cases", broken)
    async with asgi_client(app) as client:
        refused = await client.post("/generate/invoke", json={"input": {"prompt": "Hi"}})
        ready = await client.get("/ready")
        answered = await client.post("/v1/chat/completions", json={
            "model": "ok", "messages": [{"role": "user", "content": "Hi"}]})  # fmt: skip
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "use_cases_unavailable"
    assert "no module named 'missing'" in refused.json()["error"]["message"]
    assert (ready.status_code, ready.json()["error"]["code"]) == (503, "use_cases_unavailable")
    assert answered.status_code == 200
