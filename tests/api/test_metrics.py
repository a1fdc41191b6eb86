"""/metrics after a known set of requests: exact counts, and token and cost sums per tenant
that agree with the ledger."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from tests.support.tenancy import PRICED_MODELS, Platform, build_platform
from tests.support.upstream_config import fault_aliases


@pytest.fixture
def platform(make_settings) -> Platform:
    platform = build_platform(make_settings(auth_enabled=True, models=PRICED_MODELS))
    platform.tenant("alpha")
    platform.tenant("beta", rpm=1)
    return platform


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_count_requests_tokens_cost_and_rejections_per_tenant(platform):
    priced = {"configurable": {"model": "priced"}}
    async with platform.client(platform.key("alpha")) as alpha:
        for _ in range(2):
            await alpha.post("/generate/invoke", json={"input": {"prompt": "Hi"}, "config": priced})
        streamed = await alpha.post("/generate/stream", json={"input": {"prompt": "Hi"}})
        assert streamed.status_code == 200
    async with platform.client(platform.key("beta")) as beta:
        assert (await beta.post("/complete/invoke", json={"input": {"text": "a"}})).is_success
        assert (
            await beta.post("/complete/invoke", json={"input": {"text": "b"}})
        ).status_code == 429
    async with platform.client(platform.services.local_admin_key) as admin:
        scraped = await admin.get("/metrics")
        ledger = (await admin.get("/usage")).json()["records"]
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    requests = "genai_requests_total"
    assert (
        value(found, requests, route="generate", tenant="alpha", model="priced", status="200") == 2
    )
    assert (
        value(found, requests, route="generate", tenant="alpha", model="local", status="200") == 1
    )
    assert value(found, requests, route="complete", tenant="beta", model="local", status="200") == 1
    assert value(found, "genai_limit_rejections_total", tenant="beta", limit="rpm") == 1
    for tenant in ("alpha", "beta"):
        rows = [row for row in ledger if row["tenant_id"] == tenant]
        for direction in ("input", "output"):
            counted = sum(
                value(found, "genai_tokens_total", tenant=tenant, model=model, direction=direction)
                for model in ("local", "priced")
            )
            assert counted == sum(row[f"{direction}_tokens"] for row in rows) > 0
    cost = value(found, "genai_cost_usd_total", tenant="alpha", model="priced")
    assert cost == pytest.approx(sum(row["cost_usd"] for row in ledger)) and cost > 0
    assert value(found, "genai_request_seconds_count", route="generate", model="priced") == 2
    assert value(found, "genai_active_streams") == 0
    for spec in platform.services.settings.models.values():
        assert ("genai_circuit_state", (("deployment", spec.primary.name),)) in found


async def test_metrics_need_an_admin_key(platform):
    async with platform.client() as anonymous:
        assert (await anonymous.get("/metrics")).status_code == 401
    async with platform.client(platform.key("alpha")) as tenant:
        assert (await tenant.get("/metrics")).status_code == 403


async def test_metrics_name_the_dialect_each_request_came_in(make_settings, upstream):
    settings = make_settings(auth_enabled=True, models=fault_aliases(upstream, "ok"),
                             default_model="ok")  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("alpha")
    key = platform.key("alpha")
    hi = [{"role": "user", "content": "Hi"}]
    async with platform.client(key) as alpha:
        for stream in (False, True):
            for path, body in (
                ("/v1/chat/completions", {"model": "ok", "messages": hi}),
                ("/v1/responses", {"model": "ok", "input": "Hi"}),
                ("/v1/messages", {"model": "ok", "max_tokens": 8, "messages": hi}),
            ):
                answered = await alpha.post(path, json={**body, "stream": stream})
                assert answered.status_code == 200, answered.text
    async with platform.client(platform.services.local_admin_key) as admin:
        found = samples((await admin.get("/metrics")).text)
    for route in ("v1/chat/completions", "v1/responses", "v1/messages"):
        labels = {"route": route, "model": "ok"}
        assert value(found, "genai_requests_total", tenant="alpha", status="200", **labels) == 2
        assert value(found, "genai_request_seconds_count", **labels) == 2
        assert value(found, "genai_time_to_first_token_seconds_count", **labels) >= 1, (
            "its stream's first token"
        )
