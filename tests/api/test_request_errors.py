"""Bad input gets a 4xx naming the field and what to do, never a bare 500."""

from __future__ import annotations

import httpx
import pytest

from app.main import create_app
from tests.conftest import ECHO_MODELS, asgi_client
from tests.support.echo_upstream import echo_services


def assert_error(response: httpx.Response, status: int, param: str | None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert error["message"]
    return error


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": {}}, "prompt"),
        ({"input": {"prompt": ""}}, "prompt"),
        ({"input": {"prompt": "x", "max_words": "many"}}, "max_words"),
        ({"input": {"prompt": "x"}, "config": {"configurable": {"max_tokens": 0}}}, None),
        ({"input": {"prompt": "x"}, "config": {"configurable": {"temperature": 3}}}, None),
        ({"input": {"prompt": "x"}, "config": {"configurable": {"model": "gpt-9"}}}, None),
    ],
)
async def test_invalid_input_or_config_is_422_naming_the_field(echo_client, body, param):
    response = await echo_client.post("/generate/invoke", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    named = param or next(iter(body["config"]["configurable"]))
    assert named in error["param"]
    assert named in error["message"]


async def test_invalid_json_is_422(echo_client: httpx.AsyncClient):
    response = await echo_client.post(
        "/generate/invoke", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_error(response, 422, None)
    assert "JSON" in response.json()["error"]["message"]


async def test_invalid_session_id_is_422(echo_client: httpx.AsyncClient):
    body = {
        "input": {"messages": [{"type": "human", "content": "hi"}]},
        "config": {"configurable": {"session_id": "no spaces please"}},
    }
    response = await echo_client.post("/chat/invoke", json=body)
    assert_error(response, 422, "configurable.session_id")


async def test_reading_history_without_session_id_is_422(echo_client: httpx.AsyncClient):
    response = await echo_client.get("/chat/history")
    error = assert_error(response, 422, "session_id")
    assert "Field required" in error["message"]


async def test_chat_without_messages_is_422(echo_client: httpx.AsyncClient):
    response = await echo_client.post("/chat/invoke", json={"input": {"messages": []}})
    assert_error(response, 422, "messages")


@pytest.mark.parametrize("item", [None, 7, "hi", True])
@pytest.mark.parametrize("endpoint", ["invoke", "batch"])
async def test_a_chat_message_that_is_no_message_is_422_at_the_item(echo_client, item, endpoint):
    """LangChain's message union raised a TypeError (a 500) on these; found by the fuzz."""
    messages = {"messages": [{"type": "human", "content": "hi"}, item]}
    body = {"input": messages} if endpoint == "invoke" else {"inputs": [messages]}
    response = await echo_client.post(f"/chat/{endpoint}", json=body)
    assert_error(response, 422, "messages.1" if endpoint == "invoke" else "inputs.0.messages.1")


async def test_declared_body_over_the_limit_is_413(make_settings):
    settings = make_settings(models=ECHO_MODELS, max_body_bytes=2048)
    app = create_app(services=echo_services(settings))
    async with asgi_client(app) as client:
        response = await client.post("/summarize/invoke", json={"input": {"text": "x" * 5000}})
        assert_error(response, 413, None)
        assert "2048 bytes" in response.json()["error"]["message"]


async def test_streamed_body_over_the_limit_is_413(make_settings):
    settings = make_settings(models=ECHO_MODELS, max_body_bytes=2048)
    app = create_app(services=echo_services(settings))

    async def chunked_body():
        yield b'{"input": {"text": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}}'

    async with asgi_client(app) as client:
        json_type = {"content-type": "application/json"}
        response = await client.post("/summarize/invoke", content=chunked_body(), headers=json_type)
        assert_error(response, 413, None)


async def test_unknown_route_is_a_json_404(echo_client: httpx.AsyncClient):
    response = await echo_client.get("/nowhere")
    assert_error(response, 404, None)
