"""SIGTERM drains: streams in flight finish, new requests get 503, every ledger row is kept."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import RunningPlatform, platform_process
from tests.support.fault_upstream import running_fault_upstream
from tests.support.upstream_config import upstream_config

STREAMS = 20


@pytest.fixture
def draining_platform(tmp_path: Path) -> Iterator[RunningPlatform]:
    with running_fault_upstream() as upstream_url:
        config = upstream_config(tmp_path, upstream_url)
        with platform_process(tmp_path / "data", GENAI_CONFIG_FILE=str(config)) as running:
            yield running


async def _stream(client: httpx.AsyncClient, started: asyncio.Event, count: list[int]) -> str:
    body = {"model": "paced", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    received = ""
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_text():
            if not received:
                count[0] += 1
                if count[0] == STREAMS:
                    started.set()
            received += chunk
    return received


def _exit_code(pid: int, timeout: float) -> int | None:
    """The child's exit code once it exits (None: still running after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.1)
    return None


async def test_sigterm_lets_20_streams_finish_refuses_new_work_and_keeps_every_row(
    draining_platform: RunningPlatform,
):
    platform = draining_platform
    started, count = asyncio.Event(), [0]
    async with platform.client() as client:
        streams = [asyncio.create_task(_stream(client, started, count)) for _ in range(STREAMS)]
        await asyncio.wait_for(started.wait(), 10)
        os.kill(platform.pid, signal.SIGTERM)
        await asyncio.sleep(0.2)
        async with platform.client() as fresh:  # a new connection, as a new client would
            ready = await fresh.get("/ready")
            refused = await fresh.post("/generate/invoke", json={"input": {"prompt": "hi"}})
        replies = await asyncio.gather(*streams)

    assert ready.status_code == 503 and ready.json()["error"]["code"] == "shutting_down"
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "shutting_down"
    assert refused.headers["retry-after"] == "1"
    assert all(reply.rstrip().endswith("data: [DONE]") for reply in replies)
    assert all(reply.count("tick") == 20 for reply in replies)
    # uvicorn ends by re-raising the signal it handled: the conventional "stopped by SIGTERM".
    assert _exit_code(platform.pid, 20) == -signal.SIGTERM, "the server did not exit"

    database = create_engine(f"sqlite:///{platform.data_dir / 'genai.db'}")
    with database.connect() as connection:
        rows = connection.execute(
            text("select status, interrupted from usage where route = 'v1/chat/completions'")
        ).all()
    assert len(rows) == STREAMS
    assert all(status == 200 and not interrupted for status, interrupted in rows)
