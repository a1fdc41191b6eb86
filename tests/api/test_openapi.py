"""The OpenAPI document describes every route's body; a generic tool driving the platform from
it alone (schemathesis, in process) gets no 5xx and no answer that contradicts the document.

The models are real (AliasChatModel over HTTP to the fault upstream's "ok" model); the caller
holds an admin key, so the admin routes are driven too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.main import create_app
from app.settings import ModelSpec, Settings
from tests.conftest import mounted
from tests.support.tenancy import Platform

#: POST routes that take no body: an action on the resource the path names.
NO_BODY = {
    ("post", "/admin/keys/{key_id}/revoke"),
    ("post", "/signout"),
    ("post", "/v1/responses/{response_id}/cancel"),
    ("post", "/v1/batches/{batch_id}/cancel"),
}


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory, upstream: str
) -> Iterator[tuple[Platform, str]]:
    """The platform, and the admin key the fuzzer calls it with."""
    model = ModelSpec(provider="openai-compatible", model="ok", base_url=upstream)
    settings_ = Settings(
        data_dir=Path(tmp_path_factory.mktemp("fuzzed")), auth_enabled=True,
        models={"ok": model}, default_model="ok",
    )  # fmt: skip
    platform = Platform(mounted(create_app(settings_)))  # every route is documented
    platform.tenant("fuzzer")
    yield platform, platform.key("fuzzer", admin=True)
    shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzzed: tuple[Platform, str]) -> schemathesis.BaseSchema:
    platform, key = fuzzed
    return schemathesis.openapi.from_asgi(
        "/openapi.json", platform.app, headers={"Authorization": f"Bearer {key}"}
    )


def test_every_route_that_reads_a_body_documents_it(fuzzed):
    document = fuzzed[0].app.openapi()
    without = [
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch") and "requestBody" not in operation
    ]
    assert set(without) == NO_BODY
    assert "/v1/chat/completions" in document["paths"]
    assert "/generate/c/{config_hash}/stream" in document["paths"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_platform_answers_what_its_document_allows_without_a_5xx(api_schema, fuzzed, mode):
    """Every operation, with inputs the document allows (positive) and forbids (negative):
    never a 5xx, and every answer, errors included, as the document describes it."""
    headers = {"Authorization": f"Bearer {fuzzed[1]}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 60
    for operation in operations:

        @settings(
            max_examples=4, deadline=None, database=None, derandomize=True,
            suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
        )  # fmt: skip
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            call()
        except Unsatisfiable:  # nothing of it can be invalid (GET /health, say)
            assert mode is GenerationMode.NEGATIVE
