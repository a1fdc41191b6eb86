"""/v1/responses through the real openai SDK: answers, typed streams, tool calls, kept
responses and follow-ups, each tenant's own, hostile input refused in OpenAI's shape, and a
stream cut by its provider ending in `response.failed`, never `response.completed`.

The deployments are the fault upstream's (tests/support/fault_upstream.py), in OpenAI's chat
completions protocol: the platform translates. The SDK parses every body and event into its
own types, so a field of the wrong type or a missing one fails here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from app.main import create_app
from tests.support.sdks import openai_over
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

WORDS = "fault upstream says hello"
WEATHER_TOOL = {
    "type": "function", "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}  # fmt: skip
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    models = fault_aliases(upstream, "ok", "tool", "json", "drop", "broken",
                           fallback=["broken", "ok"], cut=["drop", "ok"])  # fmt: skip
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="ok")))  # fmt: skip
    platform.tenant("acme")
    platform.tenant("other")
    return platform


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with platform.client(platform.key("acme")) as client:
        yield client


@pytest.fixture
def sdk(client: httpx.AsyncClient) -> openai.AsyncOpenAI:
    return openai_over(client)


def strict(body: dict[str, Any]) -> SdkResponse:
    """The body as the SDK's published type, validated (not constructed leniently)."""
    return SdkResponse.model_validate(body, strict=False)


async def test_a_string_input_is_answered_as_a_completed_response_with_usage(sdk, client):
    response = await sdk.responses.create(model="ok", input="Hi", max_output_tokens=32)
    assert response.status == "completed" and response.output_text == WORDS
    assert response.id.startswith("resp_") and response.object == "response"
    [message] = response.output
    assert (message.type, message.role, message.content[0].type) == (
        "message", "assistant", "output_text",
    )  # fmt: skip
    usage = response.usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens > 0
    [row] = (await client.get("/usage")).json()["records"]
    assert row["route"] == "v1/responses", "the ledger names the dialect"
    assert (row["input_tokens"], row["output_tokens"]) == (usage.input_tokens, usage.output_tokens)
    raw = await client.post("/v1/responses", json={"model": "ok", "input": "Hi"})
    strict(raw.json())


async def test_instructions_and_items_become_the_chat_conversation_sent(sdk, upstream_app):
    await sdk.responses.create(
        model="ok", instructions="Be brief.", temperature=0.5, max_output_tokens=20,
        input=[
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ]},
        ],
    )  # fmt: skip
    sent = upstream_app.state.bodies["ok"]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Answer in English."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                "detail": "auto"}},
        ]},
    ]  # fmt: skip
    assert (sent["max_tokens"], sent["temperature"]) == (20, 0.5)


async def test_a_stream_is_the_typed_event_sequence_numbered_in_order(sdk):
    events = [event async for event in await sdk.responses.create(
        model="ok", input="Hi", stream=True)]  # fmt: skip
    types = [event.type for event in events]
    assert types[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]  # fmt: skip
    assert types[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]  # fmt: skip
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == WORDS
    final = events[-1].response
    assert final.output_text == WORDS and final.usage.output_tokens > 0


async def test_the_sdks_stream_helper_accumulates_the_final_response(sdk):
    async with sdk.responses.stream(model="ok", input="Hi") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    assert final.status == "completed" and final.output_text == WORDS


async def test_function_calls_whole_and_streamed_are_function_call_items(sdk):
    whole = await sdk.responses.create(model="tool", input="Weather?", tools=[WEATHER_TOOL])
    calls = [(item.name, json.loads(item.arguments)["city"]) for item in whole.output]
    assert calls == [("get_weather", "Paris"), ("get_weather", "Rome")]
    events = [event async for event in await sdk.responses.create(
        model="tool", input="Weather?", tools=[WEATHER_TOOL], stream=True)]  # fmt: skip
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert [json.loads(e.arguments)["city"] for e in done] == ["Paris", "Rome"]
    streamed = events[-1].response.output
    assert [(i.type, i.call_id) for i in streamed] == [(i.type, i.call_id) for i in whole.output]


async def test_tools_and_their_choice_reach_the_provider_as_chat_tools(sdk, upstream_app):
    await sdk.responses.create(model="ok", input="Hi", tools=[WEATHER_TOOL],
                               tool_choice={"type": "function", "name": "get_weather"},
                               parallel_tool_calls=False)  # fmt: skip
    sent = upstream_app.state.bodies["ok"]
    assert sent["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": WEATHER_TOOL["parameters"]}}]  # fmt: skip
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False


async def test_a_function_output_follows_up_by_previous_response_id(sdk, upstream_app):
    asked = await sdk.responses.create(model="tool", input="Weather?", tools=[WEATHER_TOOL])
    outputs = [{"type": "function_call_output", "call_id": item.call_id, "output": "Sunny"}
               for item in asked.output]  # fmt: skip
    answered = await sdk.responses.create(model="ok", input=outputs, tools=[WEATHER_TOOL],
                                          previous_response_id=asked.id)  # fmt: skip
    assert answered.previous_response_id == asked.id and answered.output_text == WORDS
    sent = upstream_app.state.bodies["ok"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_Paris", "call_Rome"]
    assert sent[2] == {"role": "tool", "tool_call_id": "call_Paris", "content": "Sunny"}


async def test_text_format_json_schema_is_sent_as_the_chat_response_format(sdk, upstream_app):
    class City(BaseModel):
        city: str

    parsed = await sdk.responses.parse(model="json", input="Where?", text_format=City)
    assert parsed.output_parsed == City(city="Paris")
    sent = upstream_app.state.bodies["json"]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "City"
    assert sent["json_schema"]["schema"]["properties"]["city"]["type"] == "string"


async def test_a_kept_response_is_retrieved_listed_and_deleted(sdk):
    created = await sdk.responses.create(model="ok", input="Hi", metadata={"app": "docs"})
    again = await sdk.responses.retrieve(created.id)
    assert again.output_text == WORDS and again.metadata == {"app": "docs"}
    follow_up = await sdk.responses.create(model="ok", input="And then?",
                                           previous_response_id=created.id)  # fmt: skip
    items = [item async for item in sdk.responses.input_items.list(follow_up.id, order="asc")]
    texts = [item.content[0].text for item in items]
    assert texts == ["Hi", WORDS, "And then?"], "the conversation it answered, oldest first"
    page = await sdk.responses.input_items.list(follow_up.id, limit=2)
    assert [i.content[0].text for i in page.data] == ["And then?", WORDS] and page.has_more
    deleted = await sdk.responses.delete(created.id)
    assert deleted is None or getattr(deleted, "deleted", True)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.responses.create(model="ok", input="More", previous_response_id=created.id)
    assert refused.value.param == "previous_response_id"


async def test_a_follow_up_continues_on_whichever_deployment_answers_it(sdk, upstream_app):
    first = await sdk.responses.create(model="ok", input="My name is Ada.")
    upstream_app.state.hits.clear()
    second = await sdk.responses.create(model="fallback", input="What is my name?",
                                        previous_response_id=first.id)  # fmt: skip
    assert second.status == "completed"
    assert (upstream_app.state.hits["broken"], upstream_app.state.hits["ok"]) == (1, 1)
    sent = upstream_app.state.bodies["ok"]["messages"]
    assert [m["content"] for m in sent] == ["My name is Ada.", WORDS, "What is my name?"]


async def test_a_stream_its_deployment_cuts_is_continued_on_the_next_and_completes(sdk):
    events = [event async for event in await sdk.responses.create(
        model="cut", input="Hi", stream=True)]  # fmt: skip
    assert events[-1].type == "response.completed"
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == WORDS == events[-1].response.output_text


async def test_store_false_keeps_nothing(sdk):
    created = await sdk.responses.create(model="ok", input="Hi", store=False)
    assert created.store is False
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(created.id)


async def test_another_tenants_response_is_not_found_and_cannot_be_continued(platform, sdk):
    mine = await sdk.responses.create(model="ok", input="A secret")
    async with platform.client(platform.key("other")) as other_client:
        other = openai_over(other_client)
        with pytest.raises(openai.NotFoundError):
            await other.responses.retrieve(mine.id)
        with pytest.raises(openai.NotFoundError):
            await other.responses.delete(mine.id)
        with pytest.raises(openai.NotFoundError):
            await other.responses.input_items.list(mine.id)
        with pytest.raises(openai.BadRequestError) as refused:
            await other.responses.create(model="ok", input="?", previous_response_id=mine.id)
    assert "A secret" not in str(refused.value)
    assert (await sdk.responses.retrieve(mine.id)).output_text == WORDS, "still mine"


HOSTILE = [
    ({"model": "ok", "input": [{"type": "computer_call", "id": "x"}]}, "input.0"),
    ({"model": "ok", "input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
     "input.0.message.content"),
    ({"model": "ok", "input": [{"type": "function_call_output", "call_id": "nope",
                                "output": "x"}]}, "input[0].call_id"),
    ({"model": "ok", "input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "ok", "input": "Hi", "tools": [{"type": "web_search"}]}, "tools.0"),
    ({"model": "ok", "input": "Hi", "text": {"format": {"type": "json_schema"}}}, "text.format"),
    ({"model": "ok", "input": "Hi", "background": True, "store": False}, "background"),
    ({"model": "ok", "input": "Hi", "previous_response_id": "resp_never"},
     "previous_response_id"),
    ({"model": "ok", "input": "Hi", "temperature": "hot"}, "temperature"),
    ({"model": "ok", "input": "Hi", "frobnicate": 1}, "frobnicate"),
    ({"model": "ok", "input": "Hi", "max_output_tokens": 10**9}, "max_output_tokens"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field"), HOSTILE)
async def test_hostile_input_is_a_400_naming_the_field(client, upstream_app, body, field):
    sent_before = dict(upstream_app.state.hits)
    refused = await client.post("/v1/responses", json=body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith(field), error
    assert upstream_app.state.hits == sent_before, "nothing reached a provider"


async def test_bytes_that_are_not_json_are_a_400(client):
    refused = await client.post("/v1/responses", content=b"\xff\xfe{",
                                headers={"content-type": "application/json"})  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_json"


async def test_a_provider_failure_before_the_stream_is_the_sdks_error(sdk):
    with pytest.raises(openai.InternalServerError):
        await sdk.responses.create(model="broken", input="Hi", stream=True)


async def test_a_stream_cut_by_its_provider_ends_failed_and_is_kept_failed(client, sdk):
    body = {"model": "drop", "input": "Hi", "stream": True}
    async with client.stream("POST", "/v1/responses", json=body) as response:
        events = [EVENTS.validate_python(event.json()) async for event in aiter_events(response)]
    assert events[-1].type == "response.failed", [e.type for e in events]
    assert not [e for e in events if e.type == "response.completed"]
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error"
    kept = await sdk.responses.retrieve(failed.id)
    assert kept.status == "failed", "what the client was shown is what is kept"
    [row] = (await client.get("/usage")).json()["records"]
    assert row["interrupted"] and row["status"] == 502
