"""The Responses API and Anthropic's Messages API on the embedded model (SmolLM2 on llama.cpp,
which speaks only chat completions), through the clients people use: the openai SDK, the
OpenAI Agents SDK, LangChain's ChatOpenAI (`use_responses_api`) and ChatAnthropic, and the
anthropic SDK. Raw bodies are validated against the SDKs' published types."""

from __future__ import annotations

from typing import Literal

import anthropic
import httpx
import openai
import pytest
from agents import Agent, OpenAIResponsesModel, Runner, set_tracing_disabled
from anthropic.types import Message
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from openai.types.responses import Response
from pydantic import BaseModel

pytestmark = pytest.mark.model

ASK = "Name three colours."
FAST = {"temperature": 0, "max_output_tokens": 16}


@pytest.fixture
def sdk(platform) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key, timeout=120)


@pytest.fixture
def claude_sdk(platform) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=platform.url, api_key=platform.admin_key, timeout=120)


def test_a_response_whole_and_streamed_with_exact_usage(sdk, platform):
    # Each a call to the model (no-store): what is compared is the model's answers.
    fast = {**FAST, "extra_headers": {"Cache-Control": "no-store"}}
    sdk.responses.create(model="local", input=ASK, **fast)  # the same state for both below
    raw = sdk.responses.with_raw_response.create(model="local", input=ASK, **fast)
    whole = raw.parse()
    Response.model_validate(httpx.get(f"{platform.url}/v1/responses/{whole.id}",
                                      headers=platform.headers).json())  # fmt: skip
    assert whole.output_text.strip() and whole.usage.output_tokens > 0
    row = platform.ledger_row(raw.headers["x-request-id"])
    assert (row["route"], row["token_source"]) == ("v1/responses", "provider")
    assert row["output_tokens"] == whole.usage.output_tokens
    # Raw events: the SDK's stream helper expects `response.completed`, and an answer cut at
    # its bound ends, as OpenAI's do, with `response.incomplete`.
    events = list(sdk.responses.create(model="local", input=ASK, stream=True, **fast))
    assert events[-1].type == f"response.{whole.status}"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    streamed = events[-1].response
    assert "".join(deltas) == streamed.output_text == whole.output_text
    assert (streamed.usage.input_tokens, streamed.usage.output_tokens) == (
        whole.usage.input_tokens, whole.usage.output_tokens,
    ), "counted on the stream exactly as llama.cpp reports it whole"  # fmt: skip


def test_a_kept_response_is_followed_up_listed_and_deleted(sdk):
    first = sdk.responses.create(model="local", input="My name is Ada.", **FAST)
    second = sdk.responses.create(model="local", input="What is my name?",
                                  previous_response_id=first.id, **FAST)  # fmt: skip
    items = list(sdk.responses.input_items.list(second.id, order="asc"))
    assert [item.content[0].text for item in items] == [
        "My name is Ada.", first.output_text, "What is my name?",
    ]  # fmt: skip
    assert sdk.responses.retrieve(second.id).output_text == second.output_text
    sdk.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(first.id)


class Colour(BaseModel):
    colour: Literal["red", "green", "blue"]
    bright: bool


def test_parse_is_held_to_the_schema_by_the_grammar(sdk):
    ask = "Pick a colour of the sky and say if it is bright."
    parsed = sdk.responses.parse(model="local", text_format=Colour, temperature=0,
                                 max_output_tokens=40, input=ask)  # fmt: skip
    assert isinstance(parsed.output_parsed, Colour), parsed.output_text


def test_a_plain_agent_of_the_agents_sdk_gets_its_final_output(platform):
    set_tracing_disabled(True)  # the SDK would export its traces to OpenAI
    client = openai.AsyncOpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key)
    agent = Agent(name="greeter", instructions="Greet the user in one short sentence.",
                  model=OpenAIResponsesModel(model="local", openai_client=client))  # fmt: skip
    result = Runner.run_sync(agent, "Hello!", max_turns=1)
    assert isinstance(result.final_output, str) and result.final_output.strip()


async def test_langchain_chat_openai_on_the_responses_api(platform):
    model = ChatOpenAI(base_url=f"{platform.url}/v1", api_key=platform.admin_key,
                       model="local", use_responses_api=True, max_tokens=12,
                       temperature=0)  # fmt: skip
    answer = await model.ainvoke("Say hello.")
    assert answer.text.strip() and answer.usage_metadata["output_tokens"] > 0
    streamed = [chunk async for chunk in model.astream("Say hello.")]
    assert "".join(chunk.text for chunk in streamed).strip()


def test_anthropic_messages_whole_streamed_and_counted(claude_sdk, platform):
    hi = [{"role": "user", "content": ASK}]
    counted = claude_sdk.messages.count_tokens(model="local", messages=hi)
    raw = claude_sdk.messages.with_raw_response.create(model="local", max_tokens=16,
                                                       messages=hi)  # fmt: skip
    whole = raw.parse()
    assert whole.content[0].text.strip() and whole.stop_reason in ("end_turn", "max_tokens")
    assert whole.usage.input_tokens == counted.input_tokens, "counted as the ledger counts"
    tools = [
        {
            "name": "get_weather",
            "description": "The weather in a city.",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    offered = claude_sdk.messages.create(model="local", max_tokens=4, messages=hi, tools=tools)
    assert claude_sdk.messages.count_tokens(model="local", messages=hi, tools=tools).input_tokens \
        == offered.usage.input_tokens, "tools counted as llama.cpp renders them"  # fmt: skip
    row = platform.ledger_row(raw.headers["x-request-id"])
    assert (row["route"], row["output_tokens"]) == ("v1/messages", whole.usage.output_tokens)
    body = httpx.post(f"{platform.url}/v1/messages", headers={"x-api-key": platform.admin_key},
                      json={"model": "local", "max_tokens": 8, "messages": hi},
                      timeout=120).json()  # fmt: skip
    Message.model_validate(body)
    with claude_sdk.messages.stream(model="local", max_tokens=16, messages=hi) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text and final.usage.output_tokens > 0


async def test_langchain_chat_anthropic_against_the_platform(platform):
    model = ChatAnthropic(base_url=platform.url, api_key=platform.admin_key, model="local",
                          max_tokens=12, temperature=0)  # fmt: skip
    answer = await model.ainvoke("Say hello.")
    assert answer.text.strip() and answer.usage_metadata["output_tokens"] > 0
    streamed = [chunk async for chunk in model.astream("Say hello.")]
    assert "".join(chunk.text for chunk in streamed).strip()
