"""/assist: a use case that calls the organisation's shared tools through the gateway. The
model (the recording upstream of tests/api/conftest.py, scripted to call a tool and then
answer) is offered the tools its tenant may use; each call reaches the tool's server and has
a ledger row of its own, linked to the use case's row."""

from __future__ import annotations

import json

import pytest

from app.main import create_app
from app.settings import ModelSpec
from app.storage.tool_servers import ToolServerSpec
from app.usage.ledger import UsageFilter
from tests.support.tenancy import Platform
from tests.support.tool_server import CREDENTIAL


@pytest.fixture
def platform(make_settings, recorded, crm) -> Platform:
    model = ModelSpec(provider="openai-compatible", model="m", base_url=recorded[0])
    platform = Platform(create_app(make_settings(auth_enabled=True, models={"m": model},
                                                 default_model="m")))  # fmt: skip
    platform.services.tool_servers.add(ToolServerSpec(
        name="crm", url=crm.url, headers={"Authorization": CREDENTIAL}, timeout_seconds=5,
    ))  # fmt: skip
    return platform


def rows(platform: Platform, tenant: str) -> list[dict]:
    return platform.services.ledger.page(UsageFilter(tenant_id=tenant), 100)


async def _assist(platform: Platform, tenant: str, **asked) -> str:
    async with platform.client(platform.key(tenant)) as client:
        response = await client.post("/assist/invoke", json={"input": asked})
    assert response.status_code == 200, response.text
    return response.json()["output"]


async def test_assist_calls_a_shared_tool_and_answers_from_its_result(platform, script):
    platform.tenant("sales", allowed_tools=["crm.*"])
    script.tool_name = "crm__lookup_customer"
    script.tool_arguments = json.dumps({"customer_id": "c-7"})
    script.answer = "Ada is a gold customer."
    assert await _assist(platform, "sales", question="Who is c-7?") == "Ada is a gold customer."
    asked, answered = script.received
    offered = sorted(tool["function"]["name"] for tool in asked["tools"])
    assert offered == ["crm__broken", "crm__lookup_customer", "crm__wait"]
    [result] = [m for m in answered["messages"] if m["role"] == "tool"]
    assert json.loads(result["content"]) == {"id": "c-7", "name": "Ada Lovelace", "tier": "gold"}
    by_route = {row["route"]: row for row in rows(platform, "sales")}
    assert set(by_route) == {"assist", "tools"}
    tool_row = by_route["tools"]
    assert (tool_row["tool"], tool_row["via"], tool_row["status"]) == (
        "crm.lookup_customer", "chain", 200)  # fmt: skip
    assert tool_row["client_request_id"] == by_route["assist"]["request_id"], "linked"
    assert by_route["assist"]["input_tokens"] > 0


async def test_a_tenant_granted_no_tools_gets_a_plain_answer(platform, script):
    platform.tenant("plain")
    script.answer = "Just an answer."
    assert await _assist(platform, "plain", question="Who is c-7?") == "Just an answer."
    [asked] = script.received
    assert "tools" not in asked
    assert [row["route"] for row in rows(platform, "plain")] == ["assist"]


async def test_only_the_tools_asked_for_and_allowed_are_offered(platform, script):
    platform.tenant("support", allowed_tools=["crm.lookup_customer", "crm.wait"])
    script.tool_name = "crm__broken"  # the model asks for one it was not offered
    script.tool_arguments = "{}"
    script.answer = "Could not."
    output = await _assist(platform, "support", question="Break it.", tools=["crm.wait"])
    assert output == "Could not."
    asked, answered = script.received
    assert [tool["function"]["name"] for tool in asked["tools"]] == ["crm__wait"]
    [result] = [m for m in answered["messages"] if m["role"] == "tool"]
    assert result["content"] == "Error: no such tool was offered."
    assert [row["route"] for row in rows(platform, "support")] == ["assist"], "nothing called"


async def test_a_refused_tool_call_is_told_to_the_model_and_recorded(platform, script):
    platform.tenant("limited", allowed_tools=["crm.*"], tool_rpm=1)
    script.tool_name = "crm__lookup_customer"
    script.tool_arguments = json.dumps({"customer_id": "c-1"})
    script.answer = "Done."
    await _assist(platform, "limited", question="Once.")
    script.reset()
    script.tool_name = "crm__lookup_customer"
    script.tool_arguments = json.dumps({"customer_id": "c-2"})
    script.answer = "Refused."
    assert await _assist(platform, "limited", question="Twice.") == "Refused."
    [result] = [m for m in script.received[1]["messages"] if m["role"] == "tool"]
    assert result["content"].startswith("Error: Limit of 1 shared tool calls per minute")
    tools = [row for row in rows(platform, "limited") if row["route"] == "tools"]
    assert [row["status"] for row in tools] == [200], "the refused call was never admitted"
