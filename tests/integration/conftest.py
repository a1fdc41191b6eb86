"""The real platform: `genai serve` as a child process on a loopback port, embedded model."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from app.providers.local_server import free_loopback_port
from tests.support.processes import running

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

    async def tenant_key(self, tenant: str, **fields: object) -> str:
        """A new tenant (with `fields`), made through the admin API; a key of it."""
        async with self.client() as admin:
            created = await admin.post("/admin/tenants", json={"id": tenant, **fields})
            assert created.status_code == 201, created.text
            key = await admin.post(f"/admin/tenants/{tenant}/keys", json={"name": "app"})
            return key.json()["key"]

    def ledger_row(self, request_id: str) -> dict:
        """The ledger row of one request: tests share this platform, so a test finds its own
        row by the `X-Request-Id` its request was answered with, never by being alone."""
        usage = httpx.get(
            f"{self.url}/usage", params={"limit": 10_000}, headers=self.headers, timeout=30
        ).json()
        [row] = [row for row in usage["records"] if row["request_id"] == request_id]
        return row


@contextmanager
def platform_process(data_dir: Path, **env: str) -> Iterator[RunningPlatform]:
    """Run `genai serve` with its data in data_dir until /ready answers."""
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    env = {"GENAI_DATA_DIR": str(data_dir), **env}
    log = data_dir / "server.log"
    with running(command, f"{url}/ready", log, env, STARTUP_SECONDS, stop_seconds=20) as process:
        admin_key = (data_dir / "admin-key").read_text().strip()
        yield RunningPlatform(url, admin_key, data_dir, process.pid)


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
