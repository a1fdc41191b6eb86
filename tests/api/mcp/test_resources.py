"""A tenant's own kept chat sessions and prompt versions, read-only over MCP; another
tenant's are not found."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import McpError
from pydantic import AnyUrl

from tests.api.mcp.conftest import Served
from tests.support.mcp_clients import mcp_session

KEPT = {"messages": [{"role": "user", "content": "Remember me."}],
        "config": {"configurable": {"session_id": "kept-1"}}}  # fmt: skip


async def test_a_kept_chat_session_is_listed_and_read_by_its_tenant_only(served: Served):
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool("chat", KEPT)
        assert not result.isError, result.content
        listed = [str(one.uri) for one in (await session.list_resources()).resources]
        assert "genai://chat/sessions/kept-1" in listed
        read = await session.read_resource(AnyUrl("genai://chat/sessions/kept-1"))
        kept = json.loads(read.contents[0].text)
        question, _reply = kept["messages"]  # the turn: the question and the reply
        assert question["data"]["content"] == "Remember me."
    async with mcp_session(served.url, served.keys["rival"]) as session:
        listed = [str(one.uri) for one in (await session.list_resources()).resources]
        assert "genai://chat/sessions/kept-1" not in listed
        with pytest.raises(McpError, match="No resource"):
            await session.read_resource(AnyUrl("genai://chat/sessions/kept-1"))


async def test_prompt_versions_are_readable_for_the_use_cases_a_tenant_may_use(served):
    async with mcp_session(served.url, served.keys["narrow"]) as session:
        listed = [str(one.uri) for one in (await session.list_resources()).resources]
        read = await session.read_resource(AnyUrl("genai://prompts/generate"))
        with pytest.raises(McpError, match="No resource"):
            await session.read_resource(AnyUrl("genai://prompts/summarize"))
        templates = (await session.list_resource_templates()).resourceTemplates
    assert listed == ["genai://prompts/generate"], "no chat sessions: it may not use /chat"
    versions = json.loads(read.contents[0].text)
    assert versions["newest"] == 1
    assert versions["versions"][0]["name"] == "generate"
    assert [one.uriTemplate for one in templates] == ["genai://chat/sessions/{session_id}"]
