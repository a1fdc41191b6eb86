"""/v1/messages (Anthropic's Messages API) through the real anthropic SDK: answers, the event
stream, tool use, token counts, errors the SDK raises as its own exceptions, hostile input
refused in Anthropic's shape, and a stream cut by its provider ending in an `error` event,
never `message_stop`.

The deployments are the fault upstream's (tests/support/fault_upstream.py), in OpenAI's chat
completions protocol: the platform translates. The SDK parses every body and event into its
own types; the tests validate the raw bodies against those types too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from app.main import create_app
from tests.support.sdks import anthropic_over
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

WORDS = "fault upstream says hello"
HI = [{"role": "user", "content": "Hi"}]
WEATHER_TOOL = {
    "name": "get_weather", "description": "The weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}  # fmt: skip
EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    models = fault_aliases(upstream, "ok", "tool", "json", "drop", "broken", "rate-limited",
                           cut=["drop", "ok"])  # fmt: skip
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="ok")))  # fmt: skip
    platform.tenant("acme")
    platform.tenant("narrow", allowed_models=["tool"])
    return platform


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with platform.client(platform.key("acme")) as client:
        yield client


@pytest.fixture
def sdk(platform: Platform, client: httpx.AsyncClient) -> anthropic.AsyncAnthropic:
    return anthropic_over(platform.app, client.headers["Authorization"].removeprefix("Bearer "))


async def test_a_message_is_answered_with_its_text_stop_reason_and_usage(sdk, client):
    message = await sdk.messages.create(model="ok", max_tokens=32, messages=HI)
    assert message.content[0].type == "text" and message.content[0].text == WORDS
    assert (message.role, message.stop_reason) == ("assistant", "end_turn")
    assert message.id.startswith("msg_") and message.usage.output_tokens > 0
    [row] = (await client.get("/usage")).json()["records"]
    assert row["route"] == "v1/messages", "the ledger names the dialect"
    assert row["output_tokens"] == message.usage.output_tokens
    assert row["input_tokens"] == message.usage.input_tokens
    raw = await client.post("/v1/messages", json={"model": "ok", "max_tokens": 8, "messages": HI})
    Message.model_validate(raw.json())


async def test_system_stop_sequences_and_sampling_reach_the_provider_translated(sdk, upstream_app):
    await sdk.messages.create(
        model="ok", max_tokens=20, system=[{"type": "text", "text": "Be brief."}],
        stop_sequences=["\n\n"], metadata={"user_id": "u-1"},
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 5},  # older clients send them
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": "AAAA"}},
        ]}],
        extra_headers={"anthropic-beta": "tools-2024-04-04"},
    )  # fmt: skip
    sent = upstream_app.state.bodies["ok"]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ]},
    ]  # fmt: skip
    assert (sent["max_tokens"], sent["stop"], sent["temperature"], sent["top_p"]) == (
        20, ["\n\n"], 0.2, 0.9,
    )  # fmt: skip
    assert sent["user"] == "u-1" and "top_k" not in sent, "chat completions has no top_k"


async def test_a_stream_is_anthropics_event_sequence_and_the_sdk_accumulates_it(sdk):
    async with sdk.messages.stream(model="ok", max_tokens=32, messages=HI) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    types = [event.type for event in events]
    assert types[:3] == ["message_start", "content_block_start", "content_block_delta"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert final.content[0].text == WORDS and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


async def test_the_raw_stream_validates_event_by_event_with_a_ping(client):
    body = {"model": "ok", "max_tokens": 16, "messages": HI, "stream": True}
    async with client.stream("POST", "/v1/messages", json=body) as response:
        events = [(event.event, event.json()) async for event in aiter_events(response)]
    assert all(name == data["type"] for name, data in events)
    assert "ping" in [name for name, _ in events]
    for name, data in events:
        if name != "ping":
            EVENTS.validate_python(data)


async def test_tool_use_whole_and_streamed_and_the_result_goes_back(sdk, upstream_app):
    whole = await sdk.messages.create(model="tool", max_tokens=64, messages=HI,
                                      tools=[WEATHER_TOOL])  # fmt: skip
    uses = [block for block in whole.content if block.type == "tool_use"]
    assert [use.input for use in uses] == [{"city": "Paris"}, {"city": "Rome"}]
    assert whole.stop_reason == "tool_use"
    async with sdk.messages.stream(model="tool", max_tokens=64, messages=HI,
                                   tools=[WEATHER_TOOL]) as stream:  # fmt: skip
        streamed = await stream.get_final_message()
    streamed_uses = [block.input for block in streamed.content if block.type == "tool_use"]
    assert streamed_uses == [use.input for use in uses]
    turn = [
        *HI,
        {"role": "assistant", "content": [u.model_dump(exclude_none=True) for u in uses]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny"},
            {"type": "tool_result", "tool_use_id": uses[1].id, "content": "Rain",
             "is_error": True},
        ]},
    ]  # fmt: skip
    await sdk.messages.create(model="ok", max_tokens=16, messages=turn, tools=[WEATHER_TOOL],
                              tool_choice={"type": "tool", "name": "get_weather"})  # fmt: skip
    sent = upstream_app.state.bodies["ok"]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool", "tool"]
    call = sent["messages"][1]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert sent["messages"][3]["content"] == "Error: Rain"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["input_schema"]
    pictured = [*turn[:2], {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": uses[0].id, "content": [
            {"type": "text", "text": "The sky:"},
            {"type": "image", "source": {"type": "url", "url": "https://example.org/sky.png"}},
        ]},
        {"type": "tool_result", "tool_use_id": uses[1].id, "content": "Rain"},
        {"type": "text", "text": "Which is nicer?"},
    ]}]  # fmt: skip
    await sdk.messages.create(model="ok", max_tokens=16, messages=pictured)
    sent = upstream_app.state.bodies["ok"]["messages"]
    assert sent[2:] == [
        {"role": "tool", "tool_call_id": uses[0].id, "content": "The sky:"},
        {"role": "tool", "tool_call_id": uses[1].id, "content": "Rain"},
        {"role": "user", "content": [
            {"type": "text", "text": f"The images tool call {uses[0].id} returned:"},
            {"type": "image_url", "image_url": {"url": "https://example.org/sky.png"}},
            {"type": "text", "text": "Which is nicer?"},
        ]},
    ], "a tool result's image reaches the model, after the tool messages"  # fmt: skip


async def test_structured_output_is_sent_as_the_chat_response_format(sdk, upstream_app):
    schema = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"], "additionalProperties": False}  # fmt: skip
    message = await sdk.messages.create(
        model="json", max_tokens=32, messages=HI,
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )  # fmt: skip
    assert json.loads(message.content[0].text) == {"city": "Paris"}
    sent = upstream_app.state.bodies["json"]["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


async def test_count_tokens_counts_the_prompt_as_the_ledger_does(sdk, client):
    counted = await sdk.messages.count_tokens(model="ok", messages=HI)
    message = await sdk.messages.create(model="ok", max_tokens=8, messages=HI)
    assert counted.input_tokens == message.usage.input_tokens > 0
    longer = await sdk.messages.count_tokens(model="ok", system="Be brief.", messages=HI)
    assert longer.input_tokens > counted.input_tokens
    with_tools = await sdk.messages.count_tokens(model="ok", messages=HI, tools=[WEATHER_TOOL])
    async with sdk.messages.stream(model="ok", max_tokens=8, messages=HI,
                                   tools=[WEATHER_TOOL]) as stream:  # fmt: skip
        offered = await stream.get_final_message()  # streamed: no usage from this provider
    assert with_tools.input_tokens == offered.usage.input_tokens > counted.input_tokens, (
        "a model reads the tools it is offered: they are counted, and billed alike"
    )


async def test_errors_are_anthropics_shape_and_the_sdks_exceptions(platform, sdk, client):
    with pytest.raises(anthropic.NotFoundError) as unknown:
        await sdk.messages.create(model="claude-9", max_tokens=8, messages=HI)
    assert unknown.value.body["type"] == "error"
    assert unknown.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.AuthenticationError):
        await anthropic_over(platform.app, "nope").messages.create(
            model="ok", max_tokens=8, messages=HI
        )
    narrow = anthropic_over(platform.app, platform.key("narrow"))
    with pytest.raises(anthropic.PermissionDeniedError):
        await narrow.messages.create(model="ok", max_tokens=8, messages=HI)
    with pytest.raises(anthropic.RateLimitError):
        await sdk.messages.create(model="rate-limited", max_tokens=8, messages=HI)
    with pytest.raises(anthropic.InternalServerError):
        await sdk.messages.create(model="broken", max_tokens=8, messages=HI)


HOSTILE = [
    ({"model": "ok", "messages": HI}, "max_tokens"),
    ({"model": "ok", "max_tokens": 0, "messages": HI}, "max_tokens"),
    ({"model": "ok", "max_tokens": 8, "messages": []}, "messages"),
    ({"model": "ok", "max_tokens": 8,
      "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
     "messages.0.content"),
    ({"model": "ok", "max_tokens": 8, "messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_never", "content": "x"}]}]},
     "messages.0.content.0.tool_use_id"),
    ({"model": "ok", "max_tokens": 8, "messages": [{"role": "system", "content": "x"}]},
     "messages.0.role"),
    ({"model": "ok", "max_tokens": 8, "messages": HI, "temperature": 1.5}, "temperature"),
    ({"model": "ok", "max_tokens": 8, "messages": HI,
      "tool_choice": {"type": "tool"}}, "tool_choice"),
    ({"model": "ok", "max_tokens": 10**9, "messages": HI}, "max_tokens"),
    ({"model": "ok", "max_tokens": 8, "messages": HI, "frobnicate": True}, "frobnicate"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), HOSTILE)
async def test_hostile_input_is_a_400_in_anthropics_shape_naming_the_field(
    client, upstream_app, body, field
):
    sent_before = dict(upstream_app.state.hits)
    refused = await client.post("/v1/messages", json=body)
    assert refused.status_code == 400, refused.text
    answer = refused.json()
    assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    assert field in answer["error"]["message"], answer
    assert upstream_app.state.hits == sent_before, "nothing reached a provider"


async def test_a_body_that_is_not_json_or_too_large_is_refused_in_anthropics_shape(client):
    for sent, status in ((b"\xff{", 400), (b"x" * 20_000_000, 413)):
        refused = await client.post("/v1/messages", content=sent,
                                    headers={"content-type": "application/json"})  # fmt: skip
        assert refused.status_code == status
        assert refused.json()["type"] == "error", refused.text


async def test_a_stream_its_deployment_cuts_is_continued_on_the_next(sdk):
    async with sdk.messages.stream(model="cut", max_tokens=32, messages=HI) as stream:
        text = "".join([chunk async for chunk in stream.text_stream])
        final = await stream.get_final_message()
    assert text == WORDS == final.content[0].text and final.stop_reason == "end_turn"


async def test_a_stream_cut_by_its_provider_ends_with_an_error_event(client):
    body = {"model": "drop", "max_tokens": 32, "messages": HI, "stream": True}
    async with client.stream("POST", "/v1/messages", json=body) as response:
        events = [(event.event, event.json()) async for event in aiter_events(response)]
    names = [name for name, _ in events]
    assert names[-1] == "error" and "message_stop" not in names
    error = events[-1][1]["error"]
    assert error["type"] == "api_error" and "incomplete" in error["message"]
    [row] = (await client.get("/usage")).json()["records"]
    assert row["interrupted"] and row["route"] == "v1/messages"
