"""Every error class and every provider failure renders to a status and an actionable body."""

from __future__ import annotations

import httpx
import pytest

from app.errors import (
    BadRequest,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PlatformError,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ServiceUnavailable,
    as_platform_error,
    error_response,
)

REQUEST = httpx.Request("POST", "http://upstream/v1/chat/completions")


def status_error(status: int) -> httpx.HTTPStatusError:
    return httpx.HTTPStatusError("upstream", request=REQUEST, response=upstream_response(status))


def upstream_response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST, json={"error": {}})


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (PlatformError("x"), 500, "internal_error"),
        (InvalidRequest("x", param="input.prompt"), 422, "invalid_request_error"),
        (BadRequest("x", param="model"), 400, "invalid_request_error"),
        (PayloadTooLarge("x"), 413, "invalid_request_error"),
        (NotFound("x"), 404, "not_found_error"),
        (ServiceUnavailable("x"), 503, "service_unavailable"),
        (ProviderError("x"), 502, "provider_error"),
        (ProviderRateLimited("x"), 429, "rate_limit_error"),
        (ProviderTimeout("x"), 504, "timeout_error"),
    ],
)
def test_each_error_class_renders_its_status_and_shape(error, status, kind):
    response = error_response(error)
    assert response.status_code == status
    assert response.body.startswith(b'{"error":{"message":"x","type":"' + kind.encode())


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (httpx.ConnectError("refused", request=REQUEST), 502, "provider_unreachable"),
        (httpx.ReadTimeout("slow", request=REQUEST), 504, "provider_timeout"),
        (httpx.RemoteProtocolError("dropped", request=REQUEST), 502, "provider_unreachable"),
        (status_error(429), 429, "provider_rate_limited"),
        (status_error(400), 422, "provider_refused"),
        (status_error(500), 502, "provider_failed"),
        (ValueError("bug"), 500, "internal_error"),
    ],
)
def test_every_lower_level_error_is_mapped(exc, status, code):
    error = as_platform_error(exc)
    assert (error.status_code, error.code) == (status, code)
    assert error.message and "Internal Server Error" not in error.message


def test_rate_limit_keeps_the_providers_retry_after():
    response = upstream_response(429, {"Retry-After": "7"})
    exc = httpx.HTTPStatusError("upstream", request=REQUEST, response=response)
    assert as_platform_error(exc).headers == {"Retry-After": "7"}
