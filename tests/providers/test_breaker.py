"""The circuit breaker's states, on a clock the test moves: in-process and in Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.providers.breaker import CircuitBreakers, RedisCircuitBreakers
from tests.support.redis_state import fresh_prefix, redis_or_skip


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def make_breakers(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    clients: list[Redis] = []

    def make(threshold: int, cooldown: float, clock: Clock) -> CircuitBreakers:
        if request.param == "memory":
            return CircuitBreakers(threshold, cooldown, clock)
        client = Redis.from_url(redis_or_skip())
        clients.append(client)
        return RedisCircuitBreakers(client, fresh_prefix(), threshold, cooldown, clock)

    yield make
    for client in clients:
        await client.aclose()


async def state(breakers: CircuitBreakers) -> str:
    return (await breakers.states(["d"]))["d"]


async def test_opens_after_consecutive_failures_and_lets_one_trial_through_after_cooldown(
    make_breakers,
):
    clock = Clock()
    breakers = make_breakers(3, 30, clock)
    for _ in range(2):
        await breakers.failed("d")
    assert await state(breakers) == "closed" and await breakers.allow("d")
    await breakers.failed("d")
    assert await state(breakers) == "open" and not await breakers.allow("d")
    assert await breakers.retry_after("d") == 30
    clock.now += 31
    assert await state(breakers) == "half_open"
    assert await breakers.allow("d")  # the one trial
    assert not await breakers.allow("d")  # nobody else meanwhile
    await breakers.failed("d")  # the trial failed: open again for a full cool-down
    assert await state(breakers) == "open"
    clock.now += 31
    assert await breakers.allow("d")
    await breakers.succeeded("d")
    assert await state(breakers) == "closed" and await breakers.allow("d")
    assert breakers.failures_total == {"d": 4}


async def test_a_success_resets_the_count_and_an_abandoned_trial_frees_the_slot(make_breakers):
    clock = Clock()
    breakers = make_breakers(2, 10, clock)
    await breakers.failed("d")
    await breakers.succeeded("d")
    await breakers.failed("d")
    assert await state(breakers) == "closed"
    await breakers.failed("d")
    clock.now += 11
    assert await breakers.allow("d")
    await breakers.abandoned("d")  # e.g. the client left during the trial
    assert await breakers.allow("d")


async def test_replicas_sharing_redis_skip_a_failing_deployment_together():
    url, prefix, clock = redis_or_skip(), fresh_prefix(), Clock()
    first, second = Redis.from_url(url), Redis.from_url(url)
    one = RedisCircuitBreakers(first, prefix, 2, 30, clock)
    other = RedisCircuitBreakers(second, prefix, 2, 30, clock)
    await one.failed("d")
    await other.failed("d")  # the second consecutive failure, seen by another replica
    assert not await one.allow("d") and not await other.allow("d")
    clock.now += 31
    assert [await one.allow("d"), await other.allow("d")] == [True, False]  # one trial in all
    await first.aclose()
    await second.aclose()
