"""The guardrails' API tests: one recording upstream per module, reset for each test, and a
platform over it (tests/support/guardrails.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.guardrails import guarded_platform
from tests.support.recording_upstream import Script, recording_upstream
from tests.support.tenancy import Platform


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[str, Script]]:
    with recording_upstream() as served:
        yield served


@pytest.fixture
def script(recorded) -> Script:
    recorded[1].reset()
    return recorded[1]


@pytest.fixture
def platform(make_settings, recorded) -> Platform:
    return guarded_platform(make_settings, recorded[0])
