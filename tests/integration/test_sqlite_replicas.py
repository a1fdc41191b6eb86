"""Two `genai serve` processes on one SQLite database (the embedded default, with no PostgreSQL
or Redis): their ledger writes contend for SQLite's one write lock, and one is killed with
SIGKILL in the middle of a load. Every request either got its answer with its row stored, or
failed; none was answered without its row."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.integration.conftest import RunningPlatform, platform_process
from tests.integration.test_replicas import RoundRobin
from tests.support.fault_upstream import running_fault_upstream
from tests.support.upstream_config import upstream_config


@pytest.fixture(scope="module")
def replicas(tmp_path_factory) -> Iterator[list[RunningPlatform]]:
    folder = tmp_path_factory.mktemp("sqlite-replicas")
    with running_fault_upstream() as upstream, ExitStack() as stack:
        env = {"GENAI_SECRET_KEY": "replicas-share-this-secret", "GENAI_HOST": "127.0.0.1",
               "GENAI_CONFIG_FILE": str(upstream_config(folder, upstream))}  # fmt: skip
        data = folder / "data"  # one SQLite database for both
        running = [stack.enter_context(platform_process(data, **env))]
        running.append(stack.enter_context(platform_process(data, **env)))
        yield running


async def _ledger(replica: RunningPlatform, tenant: str) -> set[str]:
    async with replica.client() as admin:
        records = (await admin.get(f"/usage?tenant={tenant}&limit=1000")).json()["records"]
    return {row["request_id"] for row in records}


async def test_contending_replicas_store_every_answered_requests_row(replicas):
    key = await replicas[0].tenant_key("busy")
    client = RoundRobin(replicas, key)
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    answered = await asyncio.gather(*(client.post("/v1/chat/completions", body)
                                      for _ in range(300)))  # fmt: skip
    await client.aclose()
    assert {response.status_code for response in answered} == {200}
    stored = await _ledger(replicas[1], "busy")
    assert {response.headers["x-request-id"] for response in answered} <= stored


async def test_a_replica_killed_mid_load_loses_no_row_of_an_answered_request(replicas):
    key = await replicas[0].tenant_key("steady")
    client = RoundRobin(replicas, key)
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}
    load = [client.post("/v1/chat/completions", body) for _ in range(400)]
    await asyncio.sleep(0.3)
    os.kill(replicas[1].pid, signal.SIGKILL)
    results = await asyncio.gather(*load, return_exceptions=True)
    await client.aclose()
    answered = {
        result.headers["x-request-id"] for result in results
        if isinstance(result, httpx.Response) and result.status_code == 200
    }  # fmt: skip
    assert 0 < len(answered) < 400, "the killed replica's requests failed"
    assert answered <= await _ledger(replicas[0], "steady")
