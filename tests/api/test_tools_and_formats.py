"""Tools and structured output pass through /v1 both ways, in OpenAI's shapes: `tools`,
`tool_choice`, `parallel_tool_calls` and `response_format` reach the provider as sent; its tool
calls come back whole or as streamed deltas the SDK assembles; the ledger bills them.

The provider is our fault upstream's `tool` model (two parallel calls of get_weather).
"""

from __future__ import annotations

import json

import openai
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.providers.clients import CompatibleClient, LlamaCppClient
from app.providers.http import HttpPool
from app.settings import Deployment, ModelSpec
from tests.support.fault_upstream import TOOL_CALLS
from tests.support.tenancy import Platform

MESSAGES = [{"role": "user", "content": "Weather in Paris and Rome?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ASKED = {"tools": TOOLS, "tool_choice": "required", "parallel_tool_calls": True}


@pytest.fixture
def platform(make_settings, upstream, upstream_app: Starlette) -> Platform:
    upstream_app.state.bodies.clear()

    def alias(*models: str) -> ModelSpec:
        deployments = [{"provider": "openai-compatible", "model": model, "base_url": upstream,
                        "max_retries": 0} for model in models]  # fmt: skip
        return ModelSpec(deployments=deployments, output_price_per_million=1.0)

    models = {"tool": alias("tool"), "tool-cut": alias("tool-drop", "ok"), "ok": alias("ok")}
    platform = Platform(create_app(make_settings(models=models, default_model="ok")))
    return platform


def sdk_of(http) -> openai.AsyncOpenAI:  # type: ignore[no-untyped-def]
    return openai.AsyncOpenAI(base_url="http://platform/v1", api_key="-", http_client=http)


async def only_row(platform: Platform) -> dict:
    async with platform.client() as client:
        [row] = (await client.get("/usage")).json()["records"]
    return row


async def test_tool_calls_come_back_whole(platform, upstream_app):
    async with platform.client() as http:
        reply = await sdk_of(http).chat.completions.create(model="tool", messages=MESSAGES, **ASKED)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert [call.model_dump() for call in choice.message.tool_calls] == TOOL_CALLS
    sent = upstream_app.state.bodies["tool"]
    assert {key: sent[key] for key in ASKED} == ASKED, "passed on as the client sent them"
    row = await only_row(platform)
    assert (row["output_tokens"], row["token_source"]) == (20, "provider")


async def test_streamed_tool_call_deltas_are_relayed_and_billed(platform):
    async with platform.client() as http:
        stream = await sdk_of(http).chat.completions.create(
            model="tool", messages=MESSAGES, stream=True, **ASKED
        )
        chunks = [chunk async for chunk in stream]
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            call = calls.setdefault(delta.index, {"id": delta.id, "arguments": ""})
            call["arguments"] += delta.function.arguments or ""
    assert [json.loads(call["arguments"]) for call in calls.values()] == [
        {"city": "Paris"}, {"city": "Rome"},
    ]  # fmt: skip
    assert [call["id"] for call in calls.values()] == ["call_Paris", "call_Rome"]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    row = await only_row(platform)
    written = sum(len(c["function"]["name"]) + len(c["function"]["arguments"]) for c in TOOL_CALLS)
    assert row["output_tokens"] >= written // 4, "the tool calls' names and arguments are billed"


async def test_a_stream_cut_inside_a_tool_call_is_not_continued_as_text(platform):
    async with platform.client() as http, http.stream(
        "POST", "/v1/chat/completions",
        json={"model": "tool-cut", "messages": MESSAGES, "stream": True, **ASKED},
    ) as response:  # fmt: skip
        lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
    assert json.loads(lines[-1][5:])["error"]["code"] == "provider_cut"
    row = await only_row(platform)
    assert (row["status"], row["continued"]) == (502, False)


async def test_a_response_format_reaches_the_provider_as_sent(platform, upstream_app):
    json_schema = {
        "name": "weather",
        "strict": True,
        "schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    response_format = {"type": "json_schema", "json_schema": json_schema}  # fmt: skip
    async with platform.client() as http:
        await sdk_of(http).chat.completions.create(
            model="ok", messages=MESSAGES, response_format=response_format
        )
    assert upstream_app.state.bodies["ok"]["response_format"] == response_format


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ({"type": "yaml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format"),
        (
            {"type": "json_schema", "json_schema": {"schema": {}}},
            "response_format.json_schema.name",
        ),
    ],
)
async def test_a_malformed_response_format_is_refused_naming_it(platform, response_format, param):
    body = {"model": "ok", "messages": MESSAGES, "response_format": response_format}
    async with platform.client() as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_the_embedded_model_is_sent_a_json_schema_as_llama_cpp_takes_it():
    """llama.cpp's server takes `json_object` with a schema (and enforces it with a grammar),
    not OpenAI's `json_schema`; other providers get OpenAI's shape as sent."""
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    wanted = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    body = {"messages": MESSAGES, "response_format": wanted}
    http = HttpPool()
    local = LlamaCppClient(Deployment(provider="local"), http, "http://127.0.0.1:1/v1", None)
    remote = CompatibleClient(
        Deployment(provider="openai-compatible", model="m", base_url="http://127.0.0.1:2/v1"),
        http, "http://127.0.0.1:2/v1",
    )  # fmt: skip
    assert local.payload(body)["response_format"] == {"type": "json_object", "schema": schema}
    assert remote.payload(body)["response_format"] == body["response_format"]


async def test_the_tools_offered_count_in_the_tokens_reserved_and_billed(
    make_settings, upstream, upstream_app
):
    """A model reads the tools it is offered: tools alone beyond the tenant's tokens per
    minute are refused before anything is sent, and a streamed answer's prompt (counted, the
    provider reports no usage) is billed for them."""
    models = {"ok": ModelSpec(provider="openai-compatible", model="ok", base_url=upstream,
                              max_retries=0)}  # fmt: skip
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="ok")))  # fmt: skip
    platform.tenant("acme", tpm=2000)
    huge = [{**TOOLS[0], "function": {**TOOLS[0]["function"], "description": "x" * 12_000}}]
    body = {"model": "ok", "messages": MESSAGES, "max_tokens": 16, "stream": True}
    async with platform.client(platform.key("acme")) as client:
        sent_before = upstream_app.state.hits["ok"]
        refused = await client.post("/v1/chat/completions", json={**body, "tools": huge})
        assert (refused.status_code, refused.json()["error"]["code"]) == (429, "tpm_exceeded")
        assert upstream_app.state.hits["ok"] == sent_before, "nothing was sent"
        for tools in ([], TOOLS):
            streamed = await client.post("/v1/chat/completions", json={**body, "tools": tools})
            assert streamed.status_code == 200
        plain, offered = (await client.get("/usage")).json()["records"]
    assert offered["input_tokens"] - plain["input_tokens"] >= len(json.dumps(TOOLS)) // 4
