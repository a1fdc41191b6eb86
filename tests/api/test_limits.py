"""Limits and budgets hold exactly under concurrent load; refusals say when to retry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from app.limits.redis_store import RedisLimitStore
from app.limits.store import BudgetScope, Denied, InMemoryLimitStore, LimitStore, Scope
from tests.support.echo_upstream import EchoUpstream
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.tenancy import PRICED_MODELS, Platform, build_platform

GENERATE = {"input": {"prompt": "Say something."}}


@pytest.fixture(params=["memory", "redis"])
def limit_state(request: pytest.FixtureRequest) -> dict[str, str]:
    """Where limit state lives: in the process, or in this machine's Redis."""
    if request.param == "memory":
        return {}
    return {"redis_url": redis_or_skip(), "redis_prefix": fresh_prefix()}


@pytest.fixture
def make_platform(make_settings, database, limit_state):
    def make(upstream: EchoUpstream | None = None) -> Platform:
        settings = make_settings(
            auth_enabled=True, database_url=database, models=PRICED_MODELS, **limit_state
        )
        return build_platform(settings, upstream)

    return make


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    if request.param == "memory":
        yield InMemoryLimitStore()
        return
    client = Redis.from_url(redis_or_skip())
    yield RedisLimitStore(client, fresh_prefix())
    await client.aclose()


async def burst(
    client: httpx.AsyncClient, count: int, body: dict = GENERATE
) -> list[httpx.Response]:
    return await asyncio.gather(*(client.post("/generate/invoke", json=body) for _ in range(count)))


async def ledger(platform: Platform, tenant: str) -> list[dict]:
    async with platform.client(platform.services.local_admin_key) as admin:
        return (await admin.get(f"/usage?tenant={tenant}")).json()["records"]


async def test_rpm_10_admits_exactly_10_of_50_concurrent_requests(make_platform):
    platform = make_platform(EchoUpstream(delay=0.05))
    platform.tenant("acme", rpm=10)
    async with platform.client(platform.key("acme")) as client:
        responses = await burst(client, 50)
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 40
    refused = next(response for response in responses if response.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit"] == "10"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    error = refused.json()["error"]
    assert error["code"] == "rpm_exceeded" and "tenant 'acme'" in error["message"]
    assert len(await ledger(platform, "acme")) == 10  # admitted requests only


async def test_key_and_tenant_limits_both_apply(make_platform):
    platform = make_platform()
    platform.tenant("acme", rpm=5)
    limited = platform.key("acme", name="limited", rpm=2)
    other = platform.key("acme", name="other")
    async with platform.client(limited) as client:
        statuses = [r.status_code for r in await burst(client, 4)]
        assert statuses.count(200) == 2
        refused = (await client.post("/generate/invoke", json=GENERATE)).json()["error"]
        assert "this key" in refused["message"]
    async with platform.client(other) as client:
        statuses = [r.status_code for r in await burst(client, 5)]
        assert statuses.count(200) == 3  # the tenant's 5, of which the first key used 2


async def test_concurrency_limit_refuses_the_excess_and_frees_on_completion(make_platform):
    upstream = EchoUpstream()
    platform = make_platform(upstream)
    platform.tenant("acme", max_concurrent=2)
    async with platform.client(platform.key("acme")) as client:
        upstream.hold()  # the admitted requests run until the others have been answered
        six = [asyncio.ensure_future(client.post("/generate/invoke", json=GENERATE))
               for _ in range(6)]  # fmt: skip
        await upstream.arrived(2)
        async with asyncio.timeout(10):  # more admitted than the limit: they wait, held
            while sum(request.done() for request in six) < 4:
                await asyncio.wait([r for r in six if not r.done()], return_when="FIRST_COMPLETED")
        upstream.release()
        statuses = [(await request).status_code for request in six]
        assert statuses.count(200) == 2
        assert statuses.count(429) == 4
        again = await burst(client, 2)
        assert [r.status_code for r in again] == [200, 200]


async def test_tokens_per_minute_are_never_exceeded_by_a_burst(make_platform):
    platform = make_platform(EchoUpstream(delay=0.05))
    platform.tenant("acme", tpm=1500)
    body = {"input": {"prompt": "Say something."}, "config": {"configurable": {"max_tokens": 50}}}
    async with platform.client(platform.key("acme")) as client:
        responses = await burst(client, 40, body)
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) > 0 and statuses.count(429) > 0
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 429}
    assert codes == {"tpm_exceeded"}
    used = sum(row["input_tokens"] + row["output_tokens"] for row in await ledger(platform, "acme"))
    assert 0 < used <= 1500


async def test_budget_is_never_overspent_by_waves_of_100_concurrent_requests(make_platform):
    platform = make_platform(EchoUpstream(delay=0.02))
    platform.tenant("acme", budget_usd=1.0, budget_period="day")
    body = {
        "input": {"prompt": "Hi"},
        "config": {"configurable": {"model": "priced", "max_tokens": 10}},
    }
    refused: list[httpx.Response] = []
    async with platform.client(platform.key("acme")) as client:
        for _ in range(20):
            wave = await burst(client, 100, body)
            refused = [r for r in wave if r.status_code == 429]
            if len(refused) == 100:
                break
    rows = await ledger(platform, "acme")
    spent = sum(row["cost_usd"] for row in rows)
    # Never overspent; used up to less than one request's reservation (~$0.63 upper bound).
    assert 0.3 < spent <= 1.0
    error = refused[0].json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "daily budget of $1" in error["message"] and "resets at" in error["message"]


async def test_spent_budget_survives_a_restart(make_settings, database):
    settings = make_settings(auth_enabled=True, database_url=database, models=PRICED_MODELS)
    first = build_platform(settings)
    first.tenant("acme", budget_usd=1.0)
    key = first.key("acme")
    body = {
        "input": {"prompt": "Hi"},
        "config": {"configurable": {"model": "priced", "max_tokens": 3}},
    }
    served = 0
    async with first.client(key) as client:
        while (await client.post("/generate/invoke", json=body)).status_code == 200:
            served += 1
    assert served > 5  # the budget was spent by requests, not refused from the start
    second = build_platform(settings)  # a new process: limit state is gone, the ledger is not
    async with second.client(key) as client:
        response = await client.post("/generate/invoke", json=body)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "budget_exceeded"


async def test_sliding_window_lets_no_burst_through_at_a_boundary(store):
    scopes = (Scope("key:k", rpm=2),)
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=0.0), Denied)
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=59.0), Denied)
    denied = await store.admit(scopes, None, 0, 0, now=59.5)
    assert isinstance(denied, Denied) and denied.limit == "rpm"
    assert denied.retry_after == pytest.approx(0.5)
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=60.1), Denied)


async def test_images_per_minute_slide_image_by_image(store):
    """A request counts every image it asks for; each ages out of the window on its own."""
    scopes = (Scope("tenant:t", ipm=4),)
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=0.0, images=3), Denied)
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=10.0, images=1), Denied)
    denied = await store.admit(scopes, None, 0, 0, now=20.0, images=2)
    assert isinstance(denied, Denied) and denied.limit == "ipm" and denied.allowed == 4
    assert denied.retry_after == pytest.approx(40.0)  # when the first request's images age out
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=20.0), Denied)  # no images
    assert isinstance(await store.admit(scopes, None, 0, 0, now=60.5, images=4), Denied)
    assert not isinstance(await store.admit(scopes, None, 0, 0, now=60.5, images=3), Denied)
    assert (await store.usage("tenant:t", now=61.0)).images == 4


async def test_settling_returns_unused_reserved_tokens(store):
    scopes = (Scope("tenant:t", tpm=100),)
    ticket = await store.admit(scopes, None, 80, 0, now=0.0)
    assert isinstance(await store.admit(scopes, None, 30, 0, now=1.0), Denied)
    assert not isinstance(ticket, Denied)
    await store.settle(ticket, 10, 0.0)
    assert not isinstance(await store.admit(scopes, None, 30, 0, now=2.0), Denied)


async def test_budget_reservations_count_until_settled(store):
    budget = BudgetScope("budget:t:2026-11-01", limit_usd=1.0, resets_in=100.0)
    await store.seed_budget(budget, spent=0.5)
    ticket = await store.admit((), budget, 0, 0.4, now=0.0)
    denied = await store.admit((), budget, 0, 0.2, now=0.0)
    assert isinstance(denied, Denied) and denied.limit == "budget" and denied.retry_after == 100.0
    assert not isinstance(ticket, Denied)
    await store.settle(ticket, 0, 0.1)
    assert not isinstance(await store.admit((), budget, 0, 0.2, now=0.0), Denied)


async def test_an_admin_sees_what_a_tenant_uses_right_now(make_platform):
    upstream = EchoUpstream()
    platform = make_platform(upstream)
    platform.tenant("acme", max_concurrent=2, budget_usd=100.0)
    platform.tenant("ops")
    await platform.app.state.use_cases.done()  # as on a started server
    body = {**GENERATE, "config": {"configurable": {"model": "priced"}}}
    async with (
        platform.client(platform.key("acme")) as client,
        platform.client(platform.key("ops", admin=True)) as admin,
    ):
        upstream.hold()
        running = asyncio.ensure_future(client.post("/generate/invoke", json=body))
        await upstream.arrived(1)
        during = (await admin.get("/admin/tenants/acme/load")).json()
        upstream.release()
        assert (await running).status_code == 200
        after = (await admin.get("/admin/tenants/acme/load")).json()
        [row] = (await client.get("/usage")).json()["records"]
    assert during["running"] == 1 and during["budget"]["reserved_usd"] > 0
    assert during["tokens_last_minute"] > row["input_tokens"] + row["output_tokens"]  # reserved
    assert after["running"] == 0 and after["requests_last_minute"] == 1
    assert after["tokens_last_minute"] == row["input_tokens"] + row["output_tokens"]  # settled
    assert after["budget"]["reserved_usd"] == pytest.approx(0, abs=1e-9)
    assert after["budget"]["spent_usd"] == pytest.approx(row["cost_usd"])
