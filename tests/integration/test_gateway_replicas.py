"""The MCP gateway on two `genai serve` replicas sharing PostgreSQL and Redis: a tenant's
`tool_rpm` holds across them, and a failing tool server's breaker, opened by calls through
either, refuses on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from app.providers.local_server import free_loopback_port
from tests.integration.conftest import RunningPlatform, platform_process
from tests.support.databases import fresh_postgres
from tests.support.fault_upstream import running_fault_upstream
from tests.support.mcp_clients import mcp_session
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.tool_server import CREDENTIAL
from tests.support.upstream_config import upstream_config


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[list[RunningPlatform]]:
    folder = tmp_path_factory.mktemp("gateway-replicas")
    with running_fault_upstream() as upstream, ExitStack() as stack:
        env = {
            "GENAI_DATABASE_URL": fresh_postgres(),
            "GENAI_REDIS_URL": redis_or_skip(),
            "GENAI_REDIS_PREFIX": fresh_prefix(),
            "GENAI_SECRET_KEY": "replicas-share-this-secret",
            "GENAI_CONFIG_FILE": str(upstream_config(folder, upstream)),
        }
        data = folder / "data"
        yield [stack.enter_context(platform_process(data, **env)) for _ in "ab"]


async def _register(replica: RunningPlatform, name: str, url: str) -> None:
    body = {"name": name, "url": url, "headers": {"Authorization": CREDENTIAL},
            "timeout_seconds": 2}  # fmt: skip
    async with replica.client() as admin:
        response = await admin.post("/admin/tool-servers", json=body)
        assert response.status_code == 201, response.text


async def _code(replica: RunningPlatform, key: str, tool: str, arguments: dict) -> str | None:
    async with mcp_session(replica.url, key) as session:
        result = await session.call_tool(tool, arguments)
    return result.structuredContent["error"]["code"] if result.isError else None


async def test_tool_rpm_holds_across_replicas(replicas, crm):
    first, second = replicas
    await _register(first, "crm", crm.url)
    key = await first.tenant_key("sales", allowed_tools=["crm.*"], tool_rpm=2)
    lookup = ("crm.lookup_customer", {"customer_id": "1"})
    codes = [await _code(replica, key, *lookup) for replica in (first, second, first, second)]
    assert codes == [None, None, "tool_rpm_exceeded", "tool_rpm_exceeded"]


async def test_a_failing_servers_breaker_opens_on_every_replica(replicas):
    first, second = replicas
    await _register(first, "dead", f"http://127.0.0.1:{free_loopback_port()}/mcp")
    key = await first.tenant_key("ops", allowed_tools=["dead.*"])
    failing = ("dead.anything", {})
    codes = [await _code(replica, key, *failing) for replica in (first, second, first)]
    assert codes == ["tool_server_failed"] * 3
    assert await _code(second, key, *failing) == "tool_server_unavailable"
