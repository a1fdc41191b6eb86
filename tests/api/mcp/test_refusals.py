"""What goes wrong on /mcp comes back as what MCP clients expect, never a 500 or a broken
session: a bad key is a 401 in the platform's error shape, a malformed JSON-RPC message a
JSON-RPC error, and a refused or failed tool call a tool error saying what to fix (with the
platform's error body as structured content), with no upstream call made. A session is its
key's alone."""

from __future__ import annotations

import httpx
import pytest

from app.tenants.models import KeyCreate
from tests.api.mcp.conftest import Served
from tests.support.mcp_clients import RawSession, mcp_session, sse_messages

GENERATE = {"prompt": "Say hello."}


def upstream_calls(upstream_app) -> int:
    return sum(upstream_app.state.hits.values())


async def test_a_missing_or_wrong_key_is_a_401_in_the_platforms_shape(served: Served):
    async with httpx.AsyncClient(base_url=served.url) as client:
        for headers in ({}, {"Authorization": "Bearer gk-not-a-key"}):
            response = await client.post(
                "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers
            )
            assert response.status_code == 401, response.text
            assert response.json()["error"]["type"] == "authentication_error"


async def test_a_forbidden_tool_is_a_tool_error_and_calls_no_model(served, upstream_app):
    before = upstream_calls(upstream_app)
    async with mcp_session(served.url, served.keys["narrow"]) as session:
        result = await session.call_tool("summarize", {"text": "Some text."})
        still = await session.call_tool("generate", GENERATE)
    assert result.isError
    assert result.structuredContent["error"]["code"] == "route_not_allowed"
    assert "may not use /summarize" in result.content[0].text
    assert not still.isError, "the session goes on"
    assert upstream_calls(upstream_app) == before + 1


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({}, "prompt"),
        ({"prompt": 7}, "prompt"),
        ({"prompt": "Hi", "max_words": 0}, "max_words"),
        ({"prompt": "Hi", "config": "fast"}, "config"),
        (
            {"prompt": "Hi", "config": {"configurable": {"temperature": "hot"}}},
            "config.configurable.temperature",
        ),
        ({"prompt": "Hi", "config": {"configurable": {"model": "nope"}}}, None),
        (
            {"prompt": "Hi", "config": {"configurable": {"prompt_version": 9}}},
            "config.configurable.prompt_version",
        ),
        ({"prompt": "\u0000" * 10}, None),
    ],
)
async def test_bad_arguments_are_a_tool_error_naming_the_field(served, arguments, param):
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool("generate", arguments)
        after = await session.call_tool("generate", GENERATE)
    error = result.structuredContent["error"] if result.isError else None
    if arguments.get("prompt") == "\u0000" * 10:  # odd but valid text: answered
        assert not result.isError, result.content
    else:
        assert result.isError, result.content
        assert error["param"] == param or (param is None and error["code"]), error
        assert error["type"] != "internal_error"
    assert not after.isError, "the session goes on"


async def test_an_unknown_tool_is_a_tool_error(served):
    async with mcp_session(served.url, served.keys["agents"]) as session:
        result = await session.call_tool("delete_everything", {})
    assert result.isError
    assert result.structuredContent["error"]["code"] == "unknown_tool"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'"text"',
        b'{"jsonrpc": "2.0", "id": 1}',
        b'{"jsonrpc": "1.0", "id": 1, "method": "tools/list"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": "x"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 5}}',
        b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tools/list"}',
        b"\xff\xfe\x00garbage",
    ],
)
async def test_a_malformed_message_is_a_json_rpc_error_never_a_500(served, body):
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        raw = RawSession(client, served.keys["agents"])
        await raw.initialize()
        response = await raw.post(body)
        assert response.status_code < 500, response.text
        if response.status_code != 202:
            [message] = [m for m in sse_messages(response) if "error" in m or "result" in m]
            assert "error" in message and isinstance(message["error"]["code"], int), message
        listed = await raw.post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        assert listed.status_code == 200, "the session survives"


async def test_a_session_is_its_keys_alone(served):
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        owner = RawSession(client, served.keys["agents"])
        session_id = await owner.initialize()
        thief = RawSession(client, served.keys["rival"])
        thief.headers["Mcp-Session-Id"] = session_id
        stolen = await thief.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert stolen.status_code == 404
        made_up = RawSession(client, served.keys["agents"])
        made_up.headers["Mcp-Session-Id"] = "0" * 32
        unknown = await made_up.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert unknown.status_code == 404
        still = await owner.post({"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
        assert still.status_code == 200


async def test_a_revoked_key_is_refused_at_its_sessions_next_message(served):
    platform = served.platform
    created = platform.services.tenants.create_key("agents", KeyCreate(name="short-lived"))
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        raw = RawSession(client, created.key)
        await raw.initialize()
        platform.services.tenants.revoke_key(created.id)  # applies at once in this process
        refused = await raw.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert refused.status_code == 401
