"""MCP's cancellation (`notifications/cancelled`) stops a tool call's upstream model call, as a
client leaving does on HTTP, and the call's ledger row says it was cut short (499)."""

from __future__ import annotations

import asyncio
import time

import httpx

from app.usage.ledger import UsageFilter
from tests.api.mcp.conftest import Served
from tests.support.mcp_clients import RawSession, sse_messages

SLOW = {"prompt": "Take your time.", "config": {"configurable": {"model": "slow"}}}


async def _until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_cancelling_a_tool_call_closes_its_upstream_call(served: Served, upstream_app):
    state = upstream_app.state
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        raw = RawSession(client, served.keys["agents"])
        await raw.initialize()
        call = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                "params": {"name": "generate", "arguments": SLOW}}  # fmt: skip
        answer = asyncio.ensure_future(raw.post(call))
        await _until(lambda: state.open_calls["slow"] >= 1)
        cancelled_at = time.monotonic()
        notice = {"jsonrpc": "2.0", "method": "notifications/cancelled",
                  "params": {"requestId": 5, "reason": "the user stopped it"}}  # fmt: skip
        assert (await raw.post(notice)).status_code == 202
        await _until(lambda: "slow" in state.closed_at)
        assert state.closed_at["slow"] - cancelled_at < 0.5, "the upstream call was closed"
        response = await answer
        [message] = sse_messages(response)
        assert message["id"] == 5 and "error" in message, "the call ends, answered once"
        listed = await raw.post({"jsonrpc": "2.0", "id": 6, "method": "tools/list"})
        assert listed.status_code == 200, "the session goes on"
    ledger = served.platform.services.ledger
    await _until(lambda: ledger.page(UsageFilter(tenant_id="agents"), 10))  # written apart
    [row] = ledger.page(UsageFilter(tenant_id="agents"), 10)
    assert (row["via"], row["status"], row["interrupted"]) == ("mcp", 499, True)
