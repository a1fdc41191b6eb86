"""A Claude deployment (the `anthropic` provider kind), faked upstream in Anthropic's wire
format (tests/support/anthropic_upstream.py), is one deployment of an alias like any other:
every dialect reaches it (chat completions, the Responses API, the Messages API, a use case),
its usage is Anthropic's exact count, and an overloaded Claude fails over to the next
deployment."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import ModelSpec
from tests.support.anthropic_upstream import (
    KEY,
    create_anthropic_upstream,
    running_anthropic_upstream,
)
from tests.support.sdks import anthropic_over, openai_over
from tests.support.tenancy import Platform

WORDS = "claude upstream says hello"
HI = [{"role": "user", "content": "Hi"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object",
                                          "properties": {"city": {"type": "string"}}}}}  # fmt: skip


@pytest.fixture(scope="module")
def claude_app() -> Starlette:
    return create_anthropic_upstream()


@pytest.fixture(scope="module")
def claude_url(claude_app: Starlette) -> Iterator[str]:
    with running_anthropic_upstream(claude_app) as url:
        yield url


@pytest.fixture
def platform(make_settings, claude_url) -> Platform:
    def claude(*models: str) -> ModelSpec:
        return ModelSpec(
            deployments=[{"provider": "anthropic", "model": model, "base_url": claude_url,
                          "api_key": KEY, "max_retries": 0} for model in models],
            input_price_per_million=3.0, output_price_per_million=15.0,
        )  # fmt: skip

    models = {"claude": claude("claude-ok"), "claude-tool": claude("claude-tool"),
              "fallback": claude("claude-overloaded", "claude-ok"),
              "cut": claude("claude-cut", "claude-ok")}  # fmt: skip
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="claude")))  # fmt: skip
    platform.tenant("acme")
    return platform


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with platform.client(platform.key("acme")) as client:
        yield client


async def ledger(client: httpx.AsyncClient) -> list[dict]:
    return (await client.get("/usage")).json()["records"]


async def test_chat_completions_reach_claude_translated_with_its_exact_usage(client, claude_app):
    sdk = openai_over(client)
    reply = await sdk.chat.completions.create(
        model="claude", max_tokens=64, stop=["\n\n"], temperature=0.3,
        messages=[{"role": "system", "content": "Be brief."}, *HI],
    )  # fmt: skip
    assert reply.choices[0].message.content == WORDS
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 5)
    sent = claude_app.state.bodies["claude-ok"]
    assert sent == {"model": "claude-ok", "system": "Be brief.", "max_tokens": 64,
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                    "stop_sequences": ["\n\n"], "temperature": 0.3}  # fmt: skip
    [row] = await ledger(client)
    assert (row["input_tokens"], row["output_tokens"], row["token_source"]) == (11, 5, "provider")
    assert row["cost_usd"] == pytest.approx((11 * 3.0 + 5 * 15.0) / 1e6)


async def test_a_streamed_chat_completion_carries_claudes_usage(client):
    stream = await openai_over(client).chat.completions.create(
        model="claude", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == WORDS
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 5)
    [row] = await ledger(client)
    assert (row["input_tokens"], row["output_tokens"], row["token_source"]) == (11, 5, "provider")


async def test_tool_calls_go_as_tool_use_and_come_back_as_tool_calls(client, claude_app):
    sdk = openai_over(client)
    reply = await sdk.chat.completions.create(model="claude-tool", messages=HI, tools=[WEATHER],
                                              tool_choice="required")  # fmt: skip
    [call] = reply.choices[0].message.tool_calls
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "toolu_paris", "get_weather", {"city": "Paris"},
    )  # fmt: skip
    assert reply.choices[0].finish_reason == "tool_calls"
    sent = claude_app.state.bodies["claude-tool"]
    assert sent["tools"] == [{"name": "get_weather", "description": "",
                              "input_schema": WEATHER["function"]["parameters"]}]  # fmt: skip
    assert sent["tool_choice"] == {"type": "any"}
    streamed = [c async for c in await sdk.chat.completions.create(
        model="claude-tool", messages=HI, tools=[WEATHER], stream=True)]  # fmt: skip
    deltas = [c.choices[0].delta for c in streamed if c.choices]
    arguments = "".join(d.tool_calls[0].function.arguments or "" for d in deltas if d.tool_calls)
    assert json.loads(arguments) == {"city": "Paris"}
    followed = [*HI, reply.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": "toolu_paris", "content": "Sunny"}]  # fmt: skip
    await sdk.chat.completions.create(model="claude", messages=followed, tools=[WEATHER])
    turns = claude_app.state.bodies["claude-ok"]["messages"]
    assert turns[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_paris", "name": "get_weather",
         "input": {"city": "Paris"}}]}  # fmt: skip
    assert turns[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_paris", "content": "Sunny"}]}  # fmt: skip


async def test_the_responses_api_reaches_claude(client):
    sdk = openai_over(client)
    whole = await sdk.responses.create(model="claude", input="Hi")
    assert whole.output_text == WORDS and whole.usage.input_tokens == 11
    events = [e async for e in await sdk.responses.create(model="claude", input="Hi",
                                                           stream=True)]  # fmt: skip
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == WORDS
    assert events[-1].response.usage.output_tokens == 5


async def test_the_messages_api_reaches_claude_through_the_platform(platform, client):
    sdk = anthropic_over(platform.app, client.headers["Authorization"].removeprefix("Bearer "))
    message = await sdk.messages.create(model="claude", max_tokens=32, messages=HI)
    assert message.content[0].text == WORDS
    assert (message.usage.input_tokens, message.usage.output_tokens) == (11, 5)
    async with sdk.messages.stream(model="claude-tool", max_tokens=32, messages=HI,
                                   tools=[{"name": "get_weather", "input_schema": {
                                       "type": "object"}}]) as stream:  # fmt: skip
        final = await stream.get_final_message()
    assert [(b.type, b.input) for b in final.content] == [("tool_use", {"city": "Paris"})]


async def test_a_use_case_runs_on_claude(client):
    body = {"input": {"prompt": "Say hello."}, "config": {"configurable": {"model": "claude"}}}
    answer = await client.post("/generate/invoke", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"] == WORDS
    [row] = await ledger(client)
    assert (row["route"], row["input_tokens"], row["output_tokens"]) == ("generate", 11, 5)


async def test_an_overloaded_claude_fails_over_and_a_cut_stream_is_continued(client, claude_app):
    sdk = openai_over(client)
    claude_app.state.bodies.clear()
    reply = await sdk.chat.completions.create(model="fallback", messages=HI)
    assert reply.choices[0].message.content == WORDS
    assert set(claude_app.state.bodies) == {"claude-overloaded", "claude-ok"}
    [row] = await ledger(client)
    assert row["deployments"].startswith("anthropic:claude-ok@"), "the one that answered"
    stream = await sdk.chat.completions.create(model="cut", messages=HI, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == WORDS
