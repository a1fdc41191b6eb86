"""/v1/responses with the hosted `mcp` tool: the platform calls the organisation's shared tools
for the client between the model's rounds, through the real openai SDK.

The model is the recording upstream (tests/api/conftest.py), scripted to call a tool until the
conversation holds a tool's answer, then to answer; the tool server is a real MCP server
(tests/support/tool_server.py) that requires the credential it was registered with. So each
test sees what reached the model, what the tool server ran, and what was kept and billed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from agents import Agent, HostedMCPTool, OpenAIResponsesModel, Runner, set_tracing_disabled
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from app.main import create_app
from app.settings import ModelSpec
from app.storage.tool_servers import ToolServerSpec
from app.usage.ledger import UsageFilter
from tests.support.sdks import openai_over
from tests.support.sse import aiter_events
from tests.support.tenancy import Platform
from tests.support.tool_server import CREDENTIAL

CRM = {"type": "mcp", "server_label": "crm", "require_approval": "never"}
ADA = {"id": "c-7", "name": "Ada Lovelace", "tier": "gold"}
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture
def platform(make_settings, recorded, crm) -> Platform:
    crm.reset()
    model = ModelSpec(provider="openai-compatible", model="m", base_url=recorded[0])
    platform = Platform(create_app(make_settings(auth_enabled=True, models={"m": model},
                                                 default_model="m")))  # fmt: skip
    platform.services.tool_servers.add(ToolServerSpec(
        name="crm", url=crm.url, headers={"Authorization": CREDENTIAL}, timeout_seconds=5,
    ))  # fmt: skip
    platform.tenant("sales", allowed_tools=["crm.*"])
    return platform


@pytest.fixture
def looks_up(script):
    """The model calls crm.lookup_customer for c-7, then answers."""
    script.tool_name = "crm__lookup_customer"
    script.tool_arguments = json.dumps({"customer_id": "c-7"})
    script.answer = "Ada is a gold customer."
    return script


def rows(platform: Platform, tenant: str) -> list[dict[str, Any]]:
    return platform.services.ledger.page(UsageFilter(tenant_id=tenant), 100)


async def _create(platform: Platform, tenant: str, **body: Any) -> Any:
    async with platform.client(platform.key(tenant)) as client:
        return await openai_over(client).responses.create(**body)


async def test_the_platform_calls_the_tool_and_the_model_answers_from_its_result(
    platform, looks_up, crm
):
    response = await _create(platform, "sales", model="m", input="Who is c-7?", tools=[CRM])
    listed, called, _ = response.output
    assert (listed.type, listed.server_label) == ("mcp_list_tools", "crm")
    assert sorted(tool.name for tool in listed.tools) == ["broken", "lookup_customer", "wait"]
    assert (called.type, called.server_label, called.name, called.status) == (
        "mcp_call", "crm", "lookup_customer", "completed")  # fmt: skip
    assert json.loads(called.output) == ADA and called.error is None
    assert response.output_text == "Ada is a gold customer." and response.status == "completed"
    assert crm.record()["calls"] == ["lookup_customer"]
    asked, followed = looks_up.received
    assert sorted(t["function"]["name"] for t in asked["tools"]) == [
        "crm__broken", "crm__lookup_customer", "crm__wait"]  # fmt: skip
    [result] = [m for m in followed["messages"] if m["role"] == "tool"]
    assert json.loads(result["content"]) == ADA, "the model is given the tool's answer"
    by_route = {row["route"]: row for row in rows(platform, "sales")}
    assert set(by_route) == {"v1/responses", "tools"}
    tool_row, response_row = by_route["tools"], by_route["v1/responses"]
    assert (tool_row["tool"], tool_row["via"], tool_row["status"]) == (
        "crm.lookup_customer", "v1", 200)  # fmt: skip
    assert tool_row["client_request_id"] == response_row["request_id"], "linked"
    assert response_row["input_tokens"] == response.usage.input_tokens == 10, "both rounds"


async def test_a_stream_shows_the_listing_and_the_call_as_typed_events(platform, looks_up):
    async with platform.client(platform.key("sales")) as client:
        body = {"model": "m", "input": "Who is c-7?", "tools": [CRM], "stream": True}
        async with client.stream("POST", "/v1/responses", json=body) as streamed:
            assert streamed.status_code == 200
            events = [EVENTS.validate_python(json.loads(event.data))
                      async for event in aiter_events(streamed)]  # fmt: skip
    types = [event.type for event in events]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    mcp = [kind for kind in types if "mcp" in kind]
    assert mcp == ["response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed",
                   "response.mcp_call.in_progress", "response.mcp_call_arguments.delta",
                   "response.mcp_call_arguments.done", "response.mcp_call.completed"]  # fmt: skip
    assert not any("function_call" in kind for kind in types), "not the client's to call"
    assert types.index("response.mcp_call.completed") < types.index("response.output_text.delta")
    final = events[-1].response
    assert (events[-1].type, final.output_text) == ("response.completed", looks_up.answer)
    assert [item.type for item in final.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert json.loads(final.output[1].output) == ADA
    assert [row["route"] for row in rows(platform, "sales")].count("tools") == 1


async def test_a_follow_up_carries_the_calls_made_to_the_model(platform, looks_up):
    first = await _create(platform, "sales", model="m", input="Who is c-7?", tools=[CRM])
    looks_up.reset()
    looks_up.answer = "Still gold."
    follow = await _create(platform, "sales", model="m", input="And now?", tools=[CRM],
                           previous_response_id=first.id)  # fmt: skip
    assert follow.output_text == "Still gold."
    [sent] = looks_up.received
    roles = [message["role"] for message in sent["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user"]
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "crm__lookup_customer"
    # The same conversation sent back by the client as items (manual state) is accepted too.
    items = [item.model_dump(exclude_none=True) for item in first.output]
    again = await _create(platform, "sales", model="m", tools=[CRM], input=[
        {"role": "user", "content": "Who is c-7?"}, *items,
        {"role": "user", "content": "And now?"}])  # fmt: skip
    assert again.status == "completed"
    assert [m["role"] for m in looks_up.received[-1]["messages"]] == roles


async def test_a_tool_that_fails_is_a_failed_call_the_model_is_told_of(platform, looks_up, crm):
    looks_up.tool_name, looks_up.tool_arguments = "crm__broken", "{}"
    looks_up.answer = "The CRM is read-only."
    response = await _create(platform, "sales", model="m", input="Fix c-7", tools=[CRM])
    _, called, _ = response.output
    assert (called.status, called.output, called.error.type) == (
        "failed", None, "mcp_tool_execution_error")  # fmt: skip
    [result] = [m for m in looks_up.received[1]["messages"] if m["role"] == "tool"]
    assert "read-only" in result["content"], "the model reads what went wrong"
    assert response.output_text == "The CRM is read-only."


async def test_tool_rpm_fails_the_call_not_the_response(platform, looks_up, crm):
    platform.tenant("capped", allowed_tools=["crm.*"], tool_rpm=1)
    first = await _create(platform, "capped", model="m", input="Who?", tools=[CRM])
    assert first.output[1].status == "completed"
    second = await _create(platform, "capped", model="m", input="Who?", tools=[CRM])
    called = second.output[1]
    assert (called.status, called.error.type, called.error.code) == ("failed", "http_error", 429)
    assert second.status == "completed"
    assert crm.record()["calls"] == ["lookup_customer"], "the second never reached the server"


async def test_the_tools_offered_are_those_granted_and_asked_for(platform, looks_up):
    platform.tenant("support", allowed_tools=["crm.lookup_customer", "crm.wait"])
    narrowed = {**CRM, "allowed_tools": ["lookup_customer", "broken"]}
    response = await _create(platform, "support", model="m", input="Who?", tools=[narrowed])
    assert [tool.name for tool in response.output[0].tools] == ["lookup_customer"]
    assert [t["function"]["name"] for t in looks_up.received[0]["tools"]] == [
        "crm__lookup_customer"]  # fmt: skip


async def test_the_clients_own_function_call_ends_the_response_as_its_own(platform, script):
    script.tool_name, script.tool_arguments = "get_weather", json.dumps({"city": "Oslo"})
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    response = await _create(platform, "sales", model="m", input="Weather?",
                             tools=[CRM, weather])  # fmt: skip
    assert [item.type for item in response.output] == ["mcp_list_tools", "function_call"]
    assert response.output[1].name == "get_weather" and len(script.received) == 1
    assert [row["route"] for row in rows(platform, "sales")] == ["v1/responses"]


@pytest.mark.parametrize(
    ("tool", "status", "param", "code"),
    [
        ({**CRM, "server_label": "erp"}, 400, "tools[0].server_label", "unknown_tool_server"),
        ({**CRM, "server_url": "https://evil.example/mcp"}, 400, "tools.0.mcp.server_url", None),
        ({**CRM, "headers": {"Authorization": "x"}}, 400, "tools.0.mcp.headers", None),
        ({**CRM, "require_approval": "always"}, 400, "tools.0.mcp.require_approval", None),
    ],
)
async def test_a_tool_server_the_platform_may_not_reach_is_refused_before_any_call(
    platform, looks_up, crm, tool, status, param, code
):
    async with platform.client(platform.key("sales")) as client:
        response = await client.post("/v1/responses", json={"model": "m", "input": "Who?",
                                                            "tools": [tool]})  # fmt: skip
    error = response.json()["error"]
    assert (response.status_code, error["param"]) == (status, param), error
    assert code is None or error["code"] == code
    assert looks_up.received == [] and crm.record()["calls"] == []


async def test_a_tenant_granted_none_of_a_servers_tools_is_refused(platform, looks_up):
    platform.tenant("plain")
    async with platform.client(platform.key("plain")) as client:
        response = await client.post("/v1/responses", json={"model": "m", "input": "Who?",
                                                            "tools": [CRM]})  # fmt: skip
    error = response.json()["error"]
    assert (response.status_code, error["param"], error["code"]) == (
        403, "tools[0].server_label", "tool_not_allowed")  # fmt: skip
    assert looks_up.received == []


async def test_a_background_response_calls_the_tool_and_keeps_the_calls(platform, looks_up, crm):
    async with platform.client(platform.key("sales")) as client:
        sdk = openai_over(client)
        queued = await sdk.responses.create(model="m", input="Who is c-7?", tools=[CRM],
                                            background=True)  # fmt: skip
        for _ in range(200):
            kept = await sdk.responses.retrieve(queued.id)
            if kept.status not in ("queued", "in_progress"):
                break
            await asyncio.sleep(0.05)
    assert kept.status == "completed", kept
    assert [item.type for item in kept.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert json.loads(kept.output[1].output) == ADA and kept.output_text == looks_up.answer
    assert crm.record()["calls"] == ["lookup_customer"]


async def test_an_agents_sdk_agent_with_a_hosted_mcp_tool_runs_to_its_answer(
    platform, looks_up, crm
):
    set_tracing_disabled(True)  # the SDK would export its traces to OpenAI
    async with platform.client(platform.key("sales")) as client:
        model = OpenAIResponsesModel(model="m", openai_client=openai_over(client))
        agent = Agent(name="crm", instructions="Look customers up.", model=model,
                      tools=[HostedMCPTool(tool_config=CRM)])  # fmt: skip
        result = await Runner.run(agent, "Who is c-7?")
    assert result.final_output == looks_up.answer
    assert crm.record()["calls"] == ["lookup_customer"], "the platform, not the SDK, called it"
    kinds = [item.type for item in result.new_items]
    assert "mcp_list_tools_item" in kinds and "tool_call_item" in kinds, kinds
