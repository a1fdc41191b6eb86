"""The guardrails' API tests: a platform over the recording upstream (tests/api/conftest.py;
tests/support/guardrails.py)."""

from __future__ import annotations

import pytest

from tests.support.guardrails import guarded_platform
from tests.support.tenancy import Platform


@pytest.fixture
def platform(make_settings, recorded) -> Platform:
    return guarded_platform(make_settings, recorded[0])
