"""The embedded llama.cpp server: started, answering, restarted after it dies, stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from app.providers.local_server import LocalModelServer, LocalModelUnavailable
from app.settings import LocalModelSettings
from tests.integration.conftest import platform_process

pytestmark = pytest.mark.model


async def test_the_child_is_restarted_after_it_dies_and_stopped_with_the_platform(tmp_path):
    server = LocalModelServer(LocalModelSettings(restart_delay=0.1), tmp_path / "local.log")
    await server.start()
    try:
        assert await server.is_ready()
        assert (tmp_path / "local.log").stat().st_mode & 0o777 == 0o600  # owner-only
        first_pid = server.pid
        os.kill(first_pid, signal.SIGKILL)
        for _ in range(300):
            await asyncio.sleep(0.1)
            if server.pid != first_pid and await server.is_ready():
                break
        assert server.pid != first_pid
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    finally:
        await server.stop()
    assert not await server.is_ready()
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)


def test_a_missing_model_file_is_named(tmp_path: Path):
    settings = LocalModelSettings(path=tmp_path / "absent.gguf")
    with pytest.raises(LocalModelUnavailable, match=r"GENAI_LOCAL_MODEL_PATH.*absent\.gguf"):
        LocalModelServer(settings, tmp_path / "local.log")


def test_the_child_does_not_outlive_a_killed_platform(tmp_path: Path):
    with platform_process(tmp_path) as running:
        platform_pid = running.pid
        children = _children(platform_pid)
        assert children, "the platform runs the model server as its child"
        os.kill(platform_pid, signal.SIGKILL)
        for _ in range(100):
            if not any(_alive(pid) for pid in children):
                break
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in children)


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
