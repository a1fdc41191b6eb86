"""A stream that waits long for its next event sends SSE comments meanwhile, so proxies that cut
idle connections (nginx, cloud load balancers: 60 s) keep it open. Here the interval is 0.3 s
and the wait is the test's scripted deployment: `late` (its answer after 2 s) or `hang` (none).
"""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from app.main import create_app
from app.services import build_services
from app.settings import ModelSpec
from tests.support.scripted_upstream import Late, Script, silent
from tests.support.tenancy import Platform

MESSAGES = [{"role": "user", "content": "Hi"}]


HELLO = "a late answer says hello"


@pytest.fixture
def platform(make_settings) -> Platform:
    script = Script(late=[Late(HELLO, seconds=2.0)], hang=[silent()])

    def alias(model: str, **fields: object) -> ModelSpec:
        return ModelSpec(provider="openai-compatible", model=model,
                         base_url="http://scripted/v1", max_retries=0, **fields)  # fmt: skip

    models = {"late": alias("late"), "hang": alias("hang", first_token_timeout=1.2)}
    settings = make_settings(models=models, default_model="late", stream_keepalive_seconds=0.3)
    return Platform(create_app(services=build_services(settings, script.transport)))


async def lines_of(client: httpx.AsyncClient, path: str, body: dict) -> list[str]:
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        return [line async for line in response.aiter_lines() if line]


async def test_a_v1_stream_waiting_for_its_first_token_sends_comments_first(platform):
    body = {"model": "late", "messages": MESSAGES, "stream": True}
    async with platform.client() as client:
        lines = await lines_of(client, "/v1/chat/completions", body)
    first_data = next(index for index, line in enumerate(lines) if line.startswith("data:"))
    comments = [line for line in lines[:first_data] if line.startswith(":")]
    assert len(comments) >= 4, "about one every 0.3 s of the 2 s wait"
    assert lines[-1] == "data: [DONE]"
    text = "".join(
        choice["delta"].get("content") or ""
        for line in lines[first_data:-1]
        for choice in json.loads(line[5:])["choices"]
    )
    assert text == HELLO


async def test_a_failure_after_the_comments_is_an_error_chunk_not_a_clean_end(platform):
    """The response has started (200) with comments: the deployment's silence can no longer be
    a 504 status, so it is the stream's error chunk, and the ledger records the 504."""
    body = {"model": "hang", "messages": MESSAGES, "stream": True}
    async with platform.client() as client:
        lines = await lines_of(client, "/v1/chat/completions", body)
        [row] = (await client.get("/usage")).json()["records"]
    assert lines[0].startswith(":")
    error = json.loads(lines[-1][5:])["error"]
    assert error["code"] == "provider_timeout"
    assert "data: [DONE]" not in lines
    assert (row["status"], row["interrupted"]) == (504, True)


async def test_the_openai_sdk_ignores_the_comments(platform):
    async with platform.client() as http:
        sdk = openai.AsyncOpenAI(base_url="http://platform/v1", api_key="-", http_client=http)
        stream = await sdk.chat.completions.create(model="late", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == HELLO


async def test_a_chain_stream_waiting_for_its_model_sends_comments(platform):
    body = {"input": {"text": "Once"}, "config": {"configurable": {"model": "late"}}}
    async with platform.client() as client:
        lines = await lines_of(client, "/complete/stream", body)
    first_data = next(index for index, line in enumerate(lines) if line == "event: data")
    assert sum(line.startswith(":") for line in lines[:first_data]) >= 4
    assert lines[-1] == "event: end"
