"""Every use case as an MCP tool on `genai serve` with the embedded model (SmolLM2 via
llama.cpp), through the official MCP client: each answers as its HTTP invoke does (greedy
decoding, one prompt: the same text), in a ledger row of its own marked `via: mcp`."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import FAST
from tests.support.mcp_clients import mcp_session

pytestmark = pytest.mark.model

INPUTS = {
    "assist": {"question": "Name a colour."},  # no tools granted: a plain answer
    "generate": {"prompt": "Name three colours.", "max_words": 10},
    "complete": {"text": "The capital of France is"},
    "summarize": {"text": "The council approved a new park by the river. Work starts in May.",
                  "style": "bullets"},
    "chat": {"messages": [{"type": "human", "content": "Say hello."}]},
    "code": {"task": "Return the sum of two numbers.", "language": "python"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(INPUTS))
async def test_a_tool_call_answers_as_the_http_invoke_does(platform, name):
    config = {"configurable": FAST}
    async with platform.client() as client:
        invoked = await client.post(f"/{name}/invoke", json={"input": INPUTS[name],
                                                             "config": config})  # fmt: skip
    assert invoked.status_code == 200, invoked.text
    async with mcp_session(platform.url, platform.admin_key) as session:
        result = await session.call_tool(name, {**INPUTS[name], "config": config})
    assert not result.isError, result.content
    output = invoked.json()["output"]
    if isinstance(output, str):
        assert result.content[0].text == output
    else:
        assert result.structuredContent == output
    row = platform.ledger_row(result.meta["genai/request_id"])
    assert (row["route"], row["via"], row["status"]) == (name, "mcp", 200)
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0


async def test_the_session_refuses_a_bad_key_with_401(platform):
    async with httpx.AsyncClient(base_url=platform.url) as client:
        response = await client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                     headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert response.status_code == 401
