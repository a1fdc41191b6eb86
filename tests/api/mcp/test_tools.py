"""The use cases as MCP tools, through the official MCP client: what a tenant sees, each use
case called and metered as its HTTP route is (a ledger row marked `via: mcp`), progress on a
long summary, and limits holding."""

from __future__ import annotations

import httpx
import pytest

from app.usage.ledger import UsageFilter
from tests.api.mcp.conftest import Served
from tests.support.mcp_clients import mcp_session

WORDS = "fault upstream says hello"

#: Arguments each use case's tool takes, at their least.
CALLS = {
    "assist": {"question": "Say hello."},
    "chat": {"messages": [{"role": "user", "content": "Hi"}]},
    "code": {"task": "Print hello.", "language": "python"},
    "complete": {"text": "Once upon"},
    "generate": {"prompt": "Say hello."},
    "summarize": {"text": "A short text to summarize."},
}


def rows(served: Served, tenant: str) -> list[dict]:
    return served.platform.services.ledger.page(UsageFilter(tenant_id=tenant), 100)


async def test_a_tenant_is_shown_the_use_cases_its_allow_list_permits(served: Served):
    async with mcp_session(served.url, served.keys["agents"]) as session:
        everything = (await session.list_tools()).tools
    async with mcp_session(served.url, served.keys["narrow"]) as session:
        narrow = (await session.list_tools()).tools
    assert [tool.name for tool in everything] == sorted(CALLS)
    assert [tool.name for tool in narrow] == ["generate"]
    summarize = next(tool for tool in everything if tool.name == "summarize")
    assert summarize.description == (
        "Summarizes a text (or the summaries of its parts) as a paragraph or bullet points."
    ), "the prompt file's description"
    assert summarize.inputSchema["required"] == ["text"]
    assert {"text", "style", "max_words", "config"} <= set(summarize.inputSchema["properties"])


@pytest.mark.parametrize("name", sorted(CALLS))
async def test_each_use_case_answers_a_tool_call_with_its_own_ledger_row(served, name):
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool(name, CALLS[name])
    assert not result.isError, result.content
    text = result.content[0].text
    assert WORDS in text
    [row] = rows(served, "agents")
    assert row["request_id"] == result.meta["genai/request_id"]
    assert (row["route"], row["via"], row["status"], row["model"]) == (name, "mcp", 200, "ok")
    assert row["prompt"] == f"{name}@1"
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert row["key_id"] is not None


async def test_a_structured_answer_comes_as_structured_content(served):
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool("code", CALLS["code"])
    assert isinstance(result.structuredContent, dict)
    assert {"code", "language", "valid"} <= set(result.structuredContent)


async def test_config_chooses_the_model_and_prompt_version_as_on_http(served):
    arguments = {**CALLS["generate"],
                 "config": {"configurable": {"model": "ok", "prompt_version": 1}}}  # fmt: skip
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool("generate", arguments)
    assert not result.isError, result.content
    [row] = rows(served, "agents")
    assert (row["model"], row["prompt"]) == ("ok", "generate@1")


async def test_a_long_summary_reports_its_parts_as_progress(served):
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    text = " ".join(f"Sentence {n} of a long text." for n in range(1500))  # ~40 KB: 20+ parts
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool("summarize", {"text": text}, progress_callback=progress)
    assert not result.isError, result.content
    assert len(seen) >= 2
    done = [one[0] for one in seen]
    assert done == sorted(done) and len(set(done)) == len(done), "progress only grows"
    assert seen[0][2].startswith("round 1: part 1 of ")
    assert all(total is not None and total >= value for value, total, _ in seen)
    [row] = rows(served, "agents")
    assert row["route"] == "summarize" and row["via"] == "mcp"


async def test_a_tool_call_is_held_to_the_tenants_limits(served):
    platform = served.platform
    platform.tenant("limited", rpm=1)
    key = platform.key("limited")
    async with mcp_session(served.url, key) as session:
        first = await session.call_tool("generate", CALLS["generate"])
        second = await session.call_tool("generate", CALLS["generate"])
    assert not first.isError
    assert second.isError
    assert second.structuredContent["error"]["code"] == "rpm_exceeded"
    assert "rpm" in second.content[0].text
    assert len(rows(served, "limited")) == 1, "a refused call is not admitted: no row"


async def test_a_tool_call_and_an_http_invoke_share_one_budget_of_requests(served):
    platform = served.platform
    platform.tenant("shared", rpm=1)
    key = platform.key("shared")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=served.url, headers=headers) as client:
        response = await client.post("/generate/invoke", json={"input": CALLS["generate"]})
        assert response.status_code == 200
    async with mcp_session(served.url, key) as session:
        refused = await session.call_tool("generate", CALLS["generate"])
    assert refused.isError and refused.structuredContent["error"]["code"] == "rpm_exceeded"
    assert [row["via"] for row in rows(served, "shared")] == [None]
