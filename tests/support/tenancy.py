"""A platform with auth on, echo models and prices, on a chosen database, plus helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

from app.main import create_app
from app.services import Services
from app.settings import ModelSpec, Settings
from app.storage.tables import UsageRow
from app.tenants.models import KeyCreate, Tenant, TenantCreate
from app.usage.ledger import LedgerEntry
from tests.conftest import asgi_client
from tests.support.echo_upstream import EchoUpstream, echo_services

#: $1 per 1,000 input tokens and $2 per 1,000 output tokens on "priced"; "local" is free.
PRICED_MODELS = {
    "local": ModelSpec(provider="local"),
    "priced": ModelSpec(
        provider="openai-compatible",
        model="x",
        base_url="http://127.0.0.1:9",
        input_price_per_million=1000.0,
        output_price_per_million=2000.0,
    ),
}


@dataclass
class Platform:
    app: FastAPI

    @property
    def services(self) -> Services:
        return self.app.state.services

    def client(self, key: str | None = None) -> httpx.AsyncClient:
        client = asgi_client(self.app)
        if key:
            client.headers["Authorization"] = f"Bearer {key}"
        return client

    def tenant(self, tenant_id: str, **fields: Any) -> Tenant:
        return self.services.tenants.create_tenant(TenantCreate(id=tenant_id, **fields))

    def key(self, tenant_id: str, name: str = "test", **fields: Any) -> str:
        return self.services.tenants.create_key(tenant_id, KeyCreate(name=name, **fields)).key

    def stored_rows(self, count: int, tenant_id: str = "local") -> None:
        """`count` ledger rows (2 + 3 tokens, one cent each), written in one transaction."""
        now = datetime.now(UTC)
        rows = [
            vars(LedgerEntry(
                request_id=f"bulk-{index}", client_request_id=None, tenant_id=tenant_id,
                key_id=None, route="generate", model="local", input_tokens=2, output_tokens=3,
                token_source="provider", cost_usd=0.01, images=0, deployments=None,
                continued=False, hedged=False, prompt=None, latency_ms=1.0, ttft_ms=None,
                status=200, interrupted=False, created_at=now,
            ))
            for index in range(count)
        ]  # fmt: skip
        with self.services.engine.begin() as connection:
            connection.execute(insert(UsageRow), rows)


def build_platform(settings: Settings, upstream: EchoUpstream | None = None) -> Platform:
    """The platform with every alias answered by `upstream` (a new echo upstream if none)."""
    return Platform(create_app(services=echo_services(settings, upstream)))


async def sign_in(
    browser: httpx.AsyncClient, key: str, origin: str = "http://platform", **headers: str
) -> httpx.Response:
    """Sign `browser` in as the console's page does: the key posted from this origin."""
    response = await browser.post(
        "/signin", json={"key": key}, headers={"Origin": origin, **headers}
    )
    assert response.status_code == 204, response.text
    return response
