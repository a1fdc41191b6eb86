"""Every error class and every provider failure renders to a status and an actionable body."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

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
    error_response,
    platform_error,
    upstream_status_error,
)


def status_error(status: int, headers: dict[str, str] | None = None) -> PlatformError:
    return upstream_status_error(status, headers or {}, b'{"error": {"message": "no"}}')


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
        (aiohttp.ClientConnectionError("refused"), 502, "provider_unreachable"),
        (aiohttp.SocketTimeoutError("slow"), 504, "provider_timeout"),
        (aiohttp.ServerDisconnectedError(), 502, "provider_unreachable"),
        (status_error(429), 429, "provider_rate_limited"),
        (status_error(400), 422, "provider_refused"),
        (status_error(500), 502, "provider_failed"),
        (RequestValidationError([{"loc": ("body", "x"), "msg": "bad"}]), 422, "invalid_field"),
        (HTTPException(400, "Invalid config hash"), 400, None),
        (ClientDisconnect(), 499, "client_closed_request"),
        (asyncio.CancelledError(), 499, "client_closed_request"),
        (ValueError("bug"), 500, "internal_error"),
    ],
)
def test_every_lower_level_error_is_mapped(exc, status, code):
    """One mapping decides the status the client sees and the one the ledger stores."""
    error = platform_error(exc)
    assert (error.status_code, error.code) == (status, code)
    assert error.message and "Internal Server Error" not in error.message


def test_rate_limit_keeps_the_providers_retry_after():
    error = status_error(429, {"retry-after": "7"})
    assert platform_error(error).headers == {"Retry-After": "7"}


def test_a_refusal_quotes_the_providers_message():
    assert "refused the request: no" in status_error(400).message
