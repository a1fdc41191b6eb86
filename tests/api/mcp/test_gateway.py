"""The organisation's shared tools through /mcp: an admin registers an upstream MCP server
(written with the `mcp` SDK, started here) with its credential; its tools appear prefixed for
a tenant allowed them and not for one that is not; each call carries the credential, is held to
the tenant's `tool_rpm` and is recorded in the ledger. An upstream that is down, slow past its
timeout or answers garbage gives a clean tool error within the timeout and opens its breaker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest

from app.main import create_app
from app.providers.local_server import free_loopback_port
from app.usage.ledger import UsageFilter
from tests.support.mcp_clients import mcp_session
from tests.support.servers import serving
from tests.support.tenancy import Platform
from tests.support.tool_server import CREDENTIAL, garbage_app
from tests.support.upstream_config import fault_aliases

TIMEOUT = 1.0  # each registered server's, in seconds


@pytest.fixture(scope="module")
def garbage() -> Iterator[str]:
    with serving(garbage_app()) as base_url:
        yield f"{base_url}/mcp"


class Gateway:
    def __init__(self, platform: Platform, url: str) -> None:
        self.platform, self.url = platform, url
        self.admin = platform.key("ops", name="admin", admin=True)

    def key(self, tenant: str, **fields) -> str:
        self.platform.tenant(tenant, **fields)
        return self.platform.key(tenant)

    async def register(self, name: str, url: str, **spec) -> httpx.Response:
        body = {"name": name, "url": url, "timeout_seconds": TIMEOUT, **spec}
        async with self.client(self.admin) as client:
            return await client.post("/admin/tool-servers", json=body)

    def client(self, key: str) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    def rows(self, tenant: str) -> list[dict]:
        return self.platform.services.ledger.page(UsageFilter(tenant_id=tenant), 100)


@pytest.fixture
def gateway(request, make_settings, upstream, crm) -> Iterator[Gateway]:
    """The platform; `log_prompts` as the test's parameter says (default off)."""
    crm.reset()
    settings = make_settings(auth_enabled=True, models=fault_aliases(upstream, "ok"),
                             default_model="ok",
                             log_prompts=getattr(request, "param", False))  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("ops")
    with serving(platform.app) as url:
        yield Gateway(platform, url)


async def _tool_names(url: str, key: str) -> list[str]:
    async with mcp_session(url, key) as session:
        return [tool.name for tool in (await session.list_tools()).tools]


async def test_a_servers_tools_appear_prefixed_for_the_tenants_allowed_them(gateway, crm):
    response = await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    assert response.status_code == 201, response.text
    everything = gateway.key("sales", allowed_tools=["crm.*"])
    one = gateway.key("support", allowed_tools=["crm.lookup_customer"])
    nothing = gateway.key("marketing")
    shared = ["crm.broken", "crm.lookup_customer", "crm.wait"]
    assert sorted(set(await _tool_names(gateway.url, everything)) & set(shared)) == shared
    assert "crm.lookup_customer" in await _tool_names(gateway.url, one)
    assert "crm.wait" not in await _tool_names(gateway.url, one)
    assert not [n for n in await _tool_names(gateway.url, nothing) if n.startswith("crm.")]
    assert set(crm.record()["seen"]) == {CREDENTIAL}, "every request to it carried its credential"


async def test_a_shared_tool_call_is_answered_and_recorded(gateway, crm):
    await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    key = gateway.key("sales", allowed_tools=["crm.*"])
    async with mcp_session(gateway.url, key) as session:
        result = await session.call_tool("crm.lookup_customer", {"customer_id": "c-7"})
    assert not result.isError, result.content
    assert result.structuredContent == {"id": "c-7", "name": "Ada Lovelace", "tier": "gold"}
    [row] = gateway.rows("sales")
    assert row["request_id"] == result.meta["genai/request_id"]
    assert (row["route"], row["tool"], row["via"], row["status"]) == (
        "tools", "crm.lookup_customer", "mcp", 200,
    )  # fmt: skip
    assert row["latency_ms"] > 0 and row["cost_usd"] == 0


async def test_a_tool_outside_the_allow_list_is_refused_without_calling_it(gateway, crm):
    await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    key = gateway.key("support", allowed_tools=["crm.lookup_customer"])
    async with mcp_session(gateway.url, key) as session:
        refused = await session.call_tool("crm.wait", {"seconds": 0})
        unknown = await session.call_tool("hr.salaries", {})
    assert refused.isError and refused.structuredContent["error"]["code"] == "tool_not_allowed"
    assert unknown.isError and unknown.structuredContent["error"]["code"] == "tool_not_allowed"
    assert crm.record()["calls"] == []
    assert gateway.rows("support") == [], "refused before admission: no row"


async def test_tool_rpm_holds_a_tenants_calls(gateway, crm):
    await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    key = gateway.key("sales", allowed_tools=["crm.*"], tool_rpm=1)
    async with mcp_session(gateway.url, key) as session:
        first = await session.call_tool("crm.lookup_customer", {"customer_id": "1"})
        second = await session.call_tool("crm.lookup_customer", {"customer_id": "2"})
        model = await session.call_tool("generate", {"prompt": "Hi"})
    assert not first.isError
    assert second.isError and second.structuredContent["error"]["code"] == "tool_rpm_exceeded"
    assert "shared tool calls per minute" in second.content[0].text
    assert not model.isError, "tool_rpm holds tools only, not the use cases"
    assert crm.record()["calls"] == ["lookup_customer"]


async def test_the_upstreams_own_tool_error_passes_through(gateway, crm):
    await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    key = gateway.key("sales", allowed_tools=["crm.*"])
    async with mcp_session(gateway.url, key) as session:
        result = await session.call_tool("crm.broken", {})
    assert result.isError
    assert "read-only today" in result.content[0].text


def _down_url() -> str:
    return f"http://127.0.0.1:{free_loopback_port()}/mcp"  # nothing listens there


@pytest.mark.parametrize("fault", ["down", "slow", "garbage", "wrong credential"])
async def test_a_failing_server_is_a_clean_tool_error_in_time_and_opens_its_breaker(
    gateway, crm, garbage, fault
):
    url = {"down": _down_url(), "slow": crm.url, "garbage": garbage,
           "wrong credential": crm.url}[fault]  # fmt: skip
    credential = "Bearer wrong" if fault == "wrong credential" else CREDENTIAL
    await gateway.register("crm", url, headers={"Authorization": credential})
    key = gateway.key("sales", allowed_tools=["crm.*"])
    tool, arguments = ("crm.wait", {"seconds": 30}) if fault == "slow" else (
        "crm.lookup_customer", {"customer_id": "1"})  # fmt: skip
    async with mcp_session(gateway.url, key) as session:
        codes = []
        for _ in range(3):  # the breaker's threshold
            started = time.monotonic()
            result = await session.call_tool(tool, arguments)
            assert time.monotonic() - started < TIMEOUT + 1.0, "within the timeout"
            assert result.isError
            codes.append(result.structuredContent["error"]["code"])
        calls_before = len(crm.record()["calls"])
        started = time.monotonic()
        refused = await session.call_tool(tool, arguments)
        assert time.monotonic() - started < 0.5, "an open breaker refuses at once"
        listed = [tool.name for tool in (await session.list_tools()).tools]
    expected = "tool_server_timeout" if fault == "slow" else "tool_server_failed"
    assert codes == [expected] * 3
    assert refused.structuredContent["error"]["code"] == "tool_server_unavailable"
    assert len(crm.record()["calls"]) == calls_before, "the breaker kept the call from it"
    assert "generate" in listed and "crm.wait" not in listed, "listing still works"
    assert {row["status"] for row in gateway.rows("sales")} == {502, 503, 504} & {
        504 if fault == "slow" else 502, 503}  # fmt: skip


@pytest.mark.parametrize("gateway", [False, True], indirect=True, ids=["quiet", "log_prompts"])
async def test_a_calls_arguments_and_result_are_logged_only_with_log_prompts(gateway, crm, caplog):
    await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    key = gateway.key("sales", allowed_tools=["crm.*"])
    caplog.set_level(logging.INFO, logger="app.requests")
    async with mcp_session(gateway.url, key) as session:
        await session.call_tool("crm.lookup_customer", {"customer_id": "c-secret-42"})
    [line] = [r.request for r in caplog.records if getattr(r, "request", {}).get("tool")]
    assert (line["tool"], line["route"], line["via"]) == ("crm.lookup_customer", "tools", "mcp")
    shown = gateway.platform.services.settings.log_prompts
    assert ("c-secret-42" in str(line)) is shown
    assert ("Ada Lovelace" in str(line)) is shown
    assert CREDENTIAL not in caplog.text


async def test_the_admin_api_registers_lists_and_removes_servers(gateway, crm):
    added = await gateway.register("crm", crm.url, headers={"Authorization": CREDENTIAL})
    assert added.status_code == 201
    assert added.json()["header_names"] == ["Authorization"]
    assert CREDENTIAL not in added.text
    again = await gateway.register("crm", crm.url)
    assert again.status_code == 409 and again.json()["error"]["param"] == "name", again.text
    for bad in ({"name": "Bad Name"}, {"url": "ftp://x"}, {"timeout_seconds": 0},
                {"headers": {"Bad Header": "x"}}):  # fmt: skip
        refused = await gateway.register(**{"name": "hr", "url": crm.url, **bad})
        assert refused.status_code == 422, refused.text
    async with gateway.client(gateway.admin) as client:
        listed = (await client.get("/admin/tool-servers")).json()["tool_servers"]
        assert [server["name"] for server in listed] == ["crm"]
        assert CREDENTIAL not in str(listed)
        assert (await client.delete("/admin/tool-servers/crm")).status_code == 204
        assert (await client.delete("/admin/tool-servers/crm")).status_code == 404
    key = gateway.key("sales", allowed_tools=["crm.*"])
    assert not [name for name in await _tool_names(gateway.url, key) if name.startswith("crm.")]
    async with gateway.client(key) as client:
        assert (await client.get("/admin/tool-servers")).status_code == 403
