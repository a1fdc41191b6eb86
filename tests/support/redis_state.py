"""This machine's Redis (if up) for the shared-state tests; each test gets its own key prefix."""

from __future__ import annotations

import uuid

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> str:
    """The Redis URL, or skip the test where no Redis answers (a user's machine)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is not available: {exc}")
    return REDIS_URL


def fresh_prefix() -> str:
    return f"genai-test-{uuid.uuid4().hex[:8]}:"
