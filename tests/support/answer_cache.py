"""The answer cache's tests share one platform over the fault upstream, and the same question.

Aliases: "ok" answers at once, "brief" takes 0.3 s, "paced" streams for 2 s, "drop" cuts its
stream; "priced" is "ok" at $1 per 1,000 input tokens and $2 per 1,000 output tokens.
Tenants "acme" and "rival". The upstream counts its calls by model (`calls`).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from app.main import create_app
from app.usage.ledger import UsageFilter
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

CHAT = "/v1/chat/completions"
ANSWER = "fault upstream says hello"


def question(text: str = "What is the capital of France?", **fields: Any) -> dict[str, Any]:
    return {"model": "priced", "messages": [{"role": "user", "content": text}],
            "temperature": 0, **fields}  # fmt: skip


def cache_platform(make_settings: Any, upstream: str) -> Platform:
    models = fault_aliases(upstream, "ok", "brief", "paced", "drop")
    models["priced"] = models["ok"].model_copy(update={
        "input_price_per_million": 1000.0, "output_price_per_million": 2000.0,
    })  # fmt: skip
    platform = Platform(create_app(make_settings(auth_enabled=True, models=models,
                                                 default_model="ok")))  # fmt: skip
    platform.tenant("acme")
    platform.tenant("rival")
    return platform


def calls(upstream_app: Starlette, model: str = "ok") -> int:
    return upstream_app.state.hits[model]


def rows(platform: Platform, tenant: str = "acme") -> list[dict[str, Any]]:
    return platform.services.ledger.page(UsageFilter(tenant_id=tenant), 1000)
