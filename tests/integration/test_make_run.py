"""The README's first command, as a newcomer types it: `PORT=<port> make run`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.providers.local_server import free_loopback_port
from app.settings import PROJECT_ROOT

pytestmark = pytest.mark.model


def test_port_make_run_serves_the_platform_on_that_port(tmp_path: Path):
    """PORT reaches `genai serve` (and only it: the embedded model's server, which reads PORT
    too, would otherwise take the port first and the platform never serve)."""
    port = free_loopback_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("GENAI_")}
    env.update(PORT=str(port), GENAI_DATA_DIR=str(tmp_path))
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        ready = _wait_ready(url, make)
        key = (tmp_path / "admin-key").read_text().strip()
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"})
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        output = make.communicate(timeout=30)[0].decode(errors="replace")
    assert ready == {"status": "ready"}, output
    assert [model["id"] for model in models.json()["data"]] == ["local", "local-embed"]  # ours
    assert f"genai-platform serving on http://127.0.0.1:{port}" in output


def _wait_ready(url: str, make: subprocess.Popen[bytes]) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if make.poll() is not None:
            raise AssertionError(f"make run exited with {make.returncode}")
        try:
            response = httpx.get(f"{url}/ready", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("make run never answered")
