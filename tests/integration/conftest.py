"""The real platform: `genai serve` as a child process on a loopback port, embedded model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from app.providers.local_server import free_loopback_port

STARTUP_SECONDS = 180


@dataclass(frozen=True)
class RunningPlatform:
    url: str
    admin_key: str
    data_dir: Path
    pid: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key or self.admin_key}"}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=120)


@contextmanager
def platform_process(data_dir: Path, **env: str) -> Iterator[RunningPlatform]:
    """Run `genai serve` with its data in data_dir until /ready answers."""
    port = free_loopback_port()
    clean_env = {key: value for key, value in os.environ.items() if not key.startswith("GENAI_")}
    clean_env.update(GENAI_DATA_DIR=str(data_dir), **env)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = (data_dir / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=clean_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, data_dir)
        admin_key = (data_dir / "admin-key").read_text().strip()
        yield RunningPlatform(url, admin_key, data_dir, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], data_dir: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (data_dir / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"genai serve exited with {process.returncode}:\n{log}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"genai serve was not ready within {STARTUP_SECONDS} s")


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """One real platform for the session, on the embedded SmolLM2 model."""
    with platform_process(tmp_path_factory.mktemp("platform")) as running:
        yield running


#: Deterministic and short: temperature 0 and few tokens keep the real model fast.
FAST = {"temperature": 0, "max_tokens": 24}


CHROMIUM = "/usr/bin/chromium"  # Debian's; playwright cannot download browsers here
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A new page; the test fails if a script of the page raised."""
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    await page.close()
    assert errors == [], f"the page raised: {errors}"
