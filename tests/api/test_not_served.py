"""What /v1 does not serve is said plainly: an OpenAI client calling an endpoint the platform
lacks gets its SDK's NotFoundError with a message naming the endpoint, what to call instead
and what is served, never a bare `Not Found`; a served path asked with another method is a
405 naming the method it takes. Nothing reaches a provider, and nothing is billed."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import openai
import pytest

from tests.support.sdks import openai_over
from tests.support.tenancy import Platform, build_platform


@pytest.fixture
def platform(make_settings) -> Platform:
    platform = build_platform(make_settings(auth_enabled=True))
    platform.tenant("acme")
    return platform


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with platform.client(platform.key("acme")) as client:
        yield client


@pytest.fixture
def sdk(client: httpx.AsyncClient) -> openai.AsyncOpenAI:
    return openai_over(client)


CALLS = {
    "/v1/fine_tuning/jobs": ("Fine-tuning", lambda sdk: sdk.fine_tuning.jobs.list()),
    "/v1/audio/speech": (
        "Audio",
        lambda sdk: sdk.audio.speech.create(model="tts-1", voice="alloy", input="Hi"),
    ),
    "/v1/audio/transcriptions": (
        "Audio",
        lambda sdk: sdk.audio.transcriptions.create(
            model="whisper-1", file=("a.wav", io.BytesIO(b"RIFF"))
        ),
    ),
}


@pytest.mark.parametrize("path", CALLS)
async def test_the_sdk_hears_which_endpoint_is_not_served_and_what_to_call_instead(
    sdk, client, path
):
    what, call = CALLS[path]
    with pytest.raises(openai.NotFoundError) as raised:
        await call(sdk)
    error = raised.value.body
    assert error["code"] == "endpoint_not_served"
    assert error["type"] == "not_found_error"
    assert path in error["message"] and what in error["message"]
    assert "POST /v1/chat/completions" in error["message"], "what is served instead"
    assert (await client.get("/usage")).json()["records"] == [], "nothing billed"


async def test_an_unknown_path_lists_what_v1_serves(client):
    answer = await client.post("/v1/chat/complete", json={})
    assert answer.status_code == 404
    message = answer.json()["error"]["message"]
    assert message.startswith("POST /v1/chat/complete is not an endpoint of this platform.")
    for served in ("POST /v1/embeddings", "POST /v1/images/generations", "GET /v1/models"):
        assert served in message


async def test_a_served_path_with_another_method_names_the_method_it_takes(client):
    answer = await client.get("/v1/chat/completions")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json()["error"]["code"] == "method_not_allowed"
    models = await client.delete("/v1/models/local")
    assert (models.status_code, models.headers["allow"]) == (405, "GET")


async def test_without_a_key_the_caller_hears_about_the_key_first(platform):
    async with platform.client() as anonymous:
        answer = await anonymous.post("/v1/fine_tuning/jobs", json={})
    assert answer.status_code == 401
