"""/health says the process lives; /ready says whether the default model's provider answers."""

from __future__ import annotations

from app.main import create_app
from app.providers.local_server import free_loopback_port
from app.settings import ModelSpec
from tests.conftest import asgi_client


async def test_ready_when_the_provider_answers(make_settings, upstream):
    spec = ModelSpec(provider="openai-compatible", model="ok", base_url=upstream)
    app = create_app(make_settings(models={"up": spec}, default_model="up"))
    async with asgi_client(app) as client:
        assert (await client.get("/ready")).json() == {"status": "ready"}


async def test_not_ready_when_the_provider_is_down(make_settings):
    closed = f"http://127.0.0.1:{free_loopback_port()}/v1"
    spec = ModelSpec(provider="openai-compatible", model="x", base_url=closed, max_retries=0)
    app = create_app(make_settings(models={"down": spec}, default_model="down"))
    async with asgi_client(app) as client:
        assert (await client.get("/health")).json() == {"status": "ok"}
        response = await client.get("/ready")
        assert response.status_code == 503
        assert "'down'" in response.json()["error"]["message"]
