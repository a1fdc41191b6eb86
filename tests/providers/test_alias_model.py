"""Tools and structured output through an alias's chat model, as a use case's chain uses them:
tools go to the provider in OpenAI's shape, its tool calls come back as LangChain tool calls
(whole, or streamed and merged), and `with_structured_output` answers the schema's object.

The provider is our fault upstream (`tool`: two parallel calls; `json`: a JSON answer); each
run is charged to the account of the meter among its callbacks, as a request's is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from pydantic import BaseModel, create_model
from starlette.applications import Starlette

from app.providers.accounting import AccountHolder, CallAccount
from app.providers.alias_model import AliasChatModel
from app.providers.breaker import CircuitBreakers
from app.providers.dispatcher import Dispatcher
from app.providers.http import HttpPool
from app.settings import ModelSpec


class Weather(BaseModel):
    """The weather in a city."""

    city: str


class Meter(BaseCallbackHandler, AccountHolder):
    """A request's meter, as a chat model finds it among its run's callbacks."""


CHARGED = {"callbacks": [Meter(CallAccount("acme", "req-1"))]}


@pytest.fixture
async def models(upstream: str) -> AsyncIterator[dict[str, AliasChatModel]]:
    specs = {
        name: ModelSpec(provider="openai-compatible", model=name, base_url=upstream)
        for name in ("tool", "json")
    }
    http = HttpPool()
    dispatcher = Dispatcher(specs, http, CircuitBreakers(), None)
    yield {name: AliasChatModel(alias=name, dispatcher=dispatcher) for name in specs}
    await http.aclose()


EXPECTED = [
    {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_Paris", "type": "tool_call"},
    {"name": "get_weather", "args": {"city": "Rome"}, "id": "call_Rome", "type": "tool_call"},
]


async def test_tool_calls_come_back_as_langchain_tool_calls(models, upstream_app: Starlette):
    bound = models["tool"].bind_tools([Weather], tool_choice="Weather")
    message = await bound.ainvoke("Weather in Paris and Rome?", CHARGED)
    assert message.tool_calls == EXPECTED
    sent = upstream_app.state.bodies["tool"]
    assert sent["tools"][0]["function"]["name"] == "Weather"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}


async def test_streamed_tool_calls_merge_into_the_same_calls(models):
    bound = models["tool"].bind_tools([Weather], tool_choice="any")
    merged = None
    async for chunk in bound.astream("Weather in Paris and Rome?", CHARGED):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and merged.tool_calls == EXPECTED


async def test_structured_output_by_json_schema(models, upstream_app: Starlette):
    answer = (
        await models["json"]
        .with_structured_output(Weather, method="json_schema")
        .ainvoke("Which city?", CHARGED)
    )
    assert answer == Weather(city="Paris")
    sent = upstream_app.state.bodies["json"]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Weather"
    assert sent["json_schema"]["schema"]["properties"] == {
        "city": {"title": "City", "type": "string"}
    }


async def test_structured_output_by_tool_calling(models):
    """LangChain's default: the schema as a tool the model must call (named as the upstream's)."""
    schema = create_model("get_weather", city=(str, ...))
    answer = await models["tool"].with_structured_output(schema).ainvoke("Which city?", CHARGED)
    assert answer == schema(city="Paris"), "the first call's arguments, as LangChain reads them"
