"""Real agent clients use /mcp unchanged: LangChain's MCP adapters load the tools and a
LangChain agent calls one; the OpenAI Agents SDK's MCP client lists them and calls one.

The LangChain agent's own model is a scripted fake (it asks for the tool, then answers): what
is under test is the agent's way to the platform's tool, which is real."""

from __future__ import annotations

from typing import Any

from agents.mcp import MCPServerStreamableHttp
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_mcp_adapters.client import MultiServerMCPClient

from app.usage.ledger import UsageFilter
from tests.api.mcp.conftest import Served

WORDS = "fault upstream says hello"


class ScriptedModel(GenericFakeChatModel):
    """Answers with its messages in turn, whatever tools it is given."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self


def _via_mcp(served: Served) -> list[str]:
    rows = served.platform.services.ledger.page(UsageFilter(tenant_id="agents"), 10)
    return [f"{row['route']} {row['via']} {row['status']}" for row in rows]


async def test_a_langchain_agent_calls_a_platform_tool_through_the_mcp_adapters(served):
    client = MultiServerMCPClient({"platform": {
        "url": f"{served.url}/mcp", "transport": "streamable_http",
        "headers": {"Authorization": f"Bearer {served.keys['agents']}"},
    }})  # fmt: skip
    tools = await client.get_tools()
    assert sorted(tool.name for tool in tools) == ["assist", "chat", "code", "complete",
                                                   "generate", "summarize"]  # fmt: skip
    ask = AIMessage("", tool_calls=[{"name": "generate", "args": {"prompt": "Say hello."},
                                     "id": "call-1"}])  # fmt: skip
    model = ScriptedModel(messages=iter([ask, AIMessage("The platform said hello.")]))
    agent = create_agent(model, tools)
    state = await agent.ainvoke({"messages": [{"role": "user", "content": "Greet me."}]})
    [answered] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert WORDS in str(answered.content)
    assert state["messages"][-1].content == "The platform said hello."
    assert _via_mcp(served) == ["generate mcp 200"]


async def test_the_openai_agents_sdk_lists_and_calls_the_platforms_tools(served):
    params = {"url": f"{served.url}/mcp",
              "headers": {"Authorization": f"Bearer {served.keys['narrow']}"}}  # fmt: skip
    async with MCPServerStreamableHttp(params=params, client_session_timeout_seconds=30) as server:
        listed = await server.list_tools()
        result = await server.call_tool("generate", {"prompt": "Say hello."})
    assert [tool.name for tool in listed] == ["generate"]
    assert not result.isError
    assert WORDS in result.content[0].text
