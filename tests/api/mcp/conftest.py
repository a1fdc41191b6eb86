"""A platform over the fault upstream, served on loopback, with three tenants: `agents` may
use every use case, `narrow` only /generate, `rival` every one (to act against `agents`).

The fault upstream's `ok` answers "fault upstream says hello"; `slow` ticks until the
platform closes the call, and notes when it did (tests/support/fault_upstream.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.main import create_app
from tests.support.servers import serving
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases


@dataclass
class Served:
    platform: Platform
    url: str
    keys: dict[str, str]


@pytest.fixture
def served(make_settings, upstream, upstream_app) -> Iterator[Served]:
    upstream_app.state.closed_at.clear()
    settings = make_settings(auth_enabled=True, models=fault_aliases(upstream, "ok", "slow"),
                             default_model="ok", summarize_chunk_chars=2000)  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("agents")
    platform.tenant("narrow", allowed_routes=["generate"])
    platform.tenant("rival")
    keys = {tenant: platform.key(tenant) for tenant in ("agents", "narrow", "rival")}
    with serving(platform.app) as url:
        yield Served(platform, url, keys)
