"""Every error class and every lower-level failure maps to a status and an actionable body;
every provider failure also to whether it counts against the deployment and is retried."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import redis.exceptions
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
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
    platform_error,
)
from app.http.error_responses import error_response
from app.providers.failures import (
    Failure,
    early_failure,
    malformed,
    status_failure,
    stream_failure,
    transport_failure,
)

REFUSAL = (
    b'{"error": {"message": "too long", "param": "messages", "code": "context_length_exceeded"}}'
)


def status(code: int, headers: dict[str, str] | None = None, body: bytes = REFUSAL) -> Failure:
    return status_failure(code, headers or {}, body)


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
        (RequestValidationError([{"loc": ("body", "x"), "msg": "bad"}]), 422, "invalid_field"),
        (HTTPException(400, "Invalid config hash"), 400, None),
        (ClientDisconnect(), 499, "client_closed_request"),
        (asyncio.CancelledError(), 499, "client_closed_request"),
        (ValueError("bug"), 500, "internal_error"),
        (aiohttp.ClientError("past the provider boundary: a bug"), 500, "internal_error"),
        # PostgreSQL out of connections, or down; Redis unreachable: the client may retry.
        (OperationalError("connect", {}, Exception("too many clients")), 503, "state_unavailable"),
        (redis.exceptions.ConnectionError("refused"), 503, "state_unavailable"),
        (redis.exceptions.TimeoutError("slow"), 503, "state_unavailable"),
    ],
)
def test_every_lower_level_error_is_mapped(exc, status, code):
    """One mapping decides the status the client sees and the one the ledger stores."""
    error = platform_error(exc)
    assert (error.status_code, error.code) == (status, code)
    assert error.message and "Internal Server Error" not in error.message


@pytest.mark.parametrize(
    ("failure", "status", "code", "counts", "retryable"),
    [
        (transport_failure(aiohttp.ClientConnectionError("refused")), 502,
         "provider_unreachable", True, True),
        (transport_failure(aiohttp.ServerDisconnectedError()), 502, "provider_unreachable",
         True, True),
        (transport_failure(ConnectionResetError()), 502, "provider_unreachable", True, True),
        (transport_failure(aiohttp.SocketTimeoutError("slow")), 504, "provider_timeout",
         True, False),
        (status(429), 429, "provider_rate_limited", True, True),
        (status(503), 502, "provider_failed", True, True),
        (status(401), 502, "provider_misconfigured", True, False),
        # The request's own fault: never counted against the deployment.
        (status(400), 400, "context_length_exceeded", False, False),
        (status(422, body=b"<html>no</html>"), 422, "provider_refused", False, False),
        # A provider's 500 may be the request's doing (llama.cpp: a bad logit_bias).
        (status(500), 502, "provider_failed", False, False),
        (early_failure(stream_failure(aiohttp.ClientPayloadError())), 502, "provider_cut",
         True, True),
        (early_failure(malformed("HTML")), 502, "provider_malformed", True, False),
        (early_failure(ProviderError("ended early", code="provider_incomplete")), 502,
         "provider_incomplete", False, False),
    ],
)  # fmt: skip
def test_every_provider_failure_is_mapped_and_classified(failure, status, code, counts, retryable):
    error = failure.error
    assert (error.status_code, error.code) == (status, code)
    assert (failure.counts, failure.retryable) == (counts, retryable)
    assert error.message and "Internal Server Error" not in error.message


def test_a_refusal_keeps_the_providers_code_param_and_message():
    error = status(400).error
    assert (error.param, error.code) == ("messages", "context_length_exceeded")
    assert error.body()["error"]["type"] == "invalid_request_error"
    assert "refused the request: too long" in error.message


def test_rate_limit_keeps_the_providers_retry_after():
    failure = status(429, {"retry-after": "7"})
    assert failure.error.headers == {"Retry-After": "7"} and failure.retry_after == 7.0


def test_a_cut_or_stalled_stream_is_named_for_what_it_is():
    assert stream_failure(aiohttp.ClientPayloadError()).code == "provider_cut"
    assert stream_failure(TimeoutError()).status_code == 504
