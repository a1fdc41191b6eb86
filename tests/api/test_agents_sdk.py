"""The OpenAI Agents SDK (`openai-agents`) runs its agents on /v1/responses unchanged: a plain
agent, and an agent whose model calls its function tool, run to its final output.

The model is the fault upstream's `tool-once` (tests/support/fault_upstream.py): it calls
`get_weather` for Paris and Rome, then, once their results are in the conversation, answers.
"""

from __future__ import annotations

import pytest
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

from app.main import create_app
from tests.support.sdks import openai_over
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

WORDS = "fault upstream says hello"


@pytest.fixture
def platform(make_settings, upstream) -> Platform:
    models = fault_aliases(upstream, "ok", "tool-once")
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="ok")))  # fmt: skip
    platform.tenant("agents")
    return platform


@pytest.fixture
async def sdk(platform: Platform):
    set_tracing_disabled(True)  # the SDK would export its traces to OpenAI
    async with platform.client(platform.key("agents")) as client:
        yield openai_over(client)


async def test_a_plain_agent_gets_its_final_output(sdk):
    agent = Agent(name="greeter", instructions="Greet.",
                  model=OpenAIResponsesModel(model="ok", openai_client=sdk))  # fmt: skip
    result = await Runner.run(agent, "Hello")
    assert result.final_output == WORDS


async def test_an_agent_calls_its_function_tool_and_answers_from_the_results(sdk, upstream_app):
    asked: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        asked.append(city)
        return f"Sunny in {city}"

    agent = Agent(name="weather", instructions="Use the tool.", tools=[get_weather],
                  model=OpenAIResponsesModel(model="tool-once", openai_client=sdk))  # fmt: skip
    result = await Runner.run(agent, "Weather in Paris and Rome?")
    assert asked == ["Paris", "Rome"], "the SDK ran the tool for each call the model made"
    assert result.final_output == WORDS
    sent = upstream_app.state.bodies["tool-once"]["messages"]
    results = [m["content"] for m in sent if m["role"] == "tool"]
    assert results == ["Sunny in Paris", "Sunny in Rome"], "the tool's results reached the model"
