"""Where the state replicas must share lives: Redis with `GENAI_REDIS_URL`, else this process."""

from __future__ import annotations

from redis.asyncio import Redis

from app.limits.redis_store import RedisLimitStore
from app.limits.store import InMemoryLimitStore, LimitStore
from app.providers.breaker import CircuitBreakers, RedisCircuitBreakers
from app.settings import Settings


def open_redis(settings: Settings) -> Redis | None:
    """A client (it connects on first use), or None for the embedded in-process state."""
    return Redis.from_url(settings.redis_url) if settings.redis_url else None


def limit_store(settings: Settings, redis: Redis | None) -> LimitStore:
    return RedisLimitStore(redis, settings.redis_prefix) if redis else InMemoryLimitStore()


def circuit_breakers(settings: Settings, redis: Redis | None) -> CircuitBreakers:
    return RedisCircuitBreakers(redis, settings.redis_prefix) if redis else CircuitBreakers()
