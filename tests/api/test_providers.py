"""Each provider kind reaches an OpenAI-protocol server through its LangChain client."""

from __future__ import annotations

import pytest

from app.main import create_app
from app.providers.local_server import child_environment
from app.settings import ModelSpec
from tests.conftest import asgi_client
from tests.support.sse import read_events


@pytest.mark.parametrize("kind", ["openai", "openai-compatible", "azure"])
@pytest.mark.parametrize("route", ["invoke", "stream"])
async def test_every_provider_kind_answers(make_settings, upstream, kind, route):
    root = upstream.removesuffix("/v1")
    specs = {
        "openai": ModelSpec(provider="openai", model="ok", base_url=upstream, api_key="sk-test"),
        "openai-compatible": ModelSpec(provider="openai-compatible", model="ok", base_url=upstream),
        "azure": ModelSpec(
            provider="azure",
            model="ok",
            azure_endpoint=root,
            api_version="2024-10-21",
            api_key="azure-test",
        ),
    }
    app = create_app(make_settings(models={kind: specs[kind]}, default_model=kind))
    body = {"input": {"text": "Once"}}
    async with asgi_client(app) as client:
        if route == "invoke":
            answer = (await client.post("/complete/invoke", json=body)).json()["output"]
        else:
            events = await read_events(client, "/complete/stream", body)
            answer = "".join(event.json() for event in events if event.event == "data")
    assert answer == "fault upstream says hello"


def test_the_embedded_models_process_inherits_no_setting_of_the_platform():
    """llama.cpp's server reads HOST, PORT, CONFIG_FILE and its settings (API_KEY, MODEL...)
    from its environment, over its flags: none may leak from the platform's."""
    platform = {
        "PORT": "9000", "HOST": "0.0.0.0", "CONFIG_FILE": "/etc/x.json", "API_KEY": "k",
        "MODEL": "other.gguf", "N_CTX": "64", "GENAI_SECRET_KEY": "s",
        "PATH": "/usr/bin", "HOME": "/home/u", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "2",
    }  # fmt: skip
    assert child_environment(platform) == {
        "PATH": "/usr/bin", "HOME": "/home/u", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "2",
    }  # fmt: skip
