"""What the API tests share: a recording upstream per module (scripted per test, reset for
each: tests/support/recording_upstream.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.recording_upstream import Script, recording_upstream


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[str, Script]]:
    """Its /v1 base URL and its script."""
    with recording_upstream() as served:
        yield served


@pytest.fixture
def script(recorded) -> Script:
    recorded[1].reset()
    return recorded[1]
