"""How a provider call fails, decided at the boundary: nothing past `providers/` sees aiohttp.

Each failure is a platform error (app/errors.py) plus two facts the router acts on:
- `counts`: it says the deployment is unhealthy, and counts toward opening its circuit.
  Only failures no request could cause count: the connection, timeouts, 429, 502-504, the
  platform's own credentials refused, answers that break the protocol. A provider's 500 does
  not: llama.cpp answers 500 to a bad sampling parameter, and one tenant's bad requests must not
  take a shared model away from every other tenant.
- `retryable`: trying the same deployment again may help (connection errors, 408, 409, 429,
  502-504); otherwise the next deployment is tried at once.
A refusal of the request itself (400, 413, 422) neither counts nor is retried; its error,
`ProviderRefused`, keeps the provider's own status, code and param, as OpenAI's SDK expects
them (`context_length_exceeded`, say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import orjson

from app.errors import (
    PlatformError,
    ProviderError,
    ProviderRateLimited,
    ProviderRefused,
    ProviderTimeout,
)

#: Errors of the HTTP client, raised while calling a provider.
TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)

_REFUSED = frozenset({400, 413, 422})  # the request's fault
_TRANSIENT = frozenset({408, 409, 429, 502, 503, 504, 529})  # 529: Anthropic's overloaded
_MISCONFIGURED = frozenset({401, 403, 404})  # the platform's key or model name


@dataclass(eq=False)
class Failure(Exception):
    """One deployment failed to answer; the router tries again or moves on."""

    error: PlatformError
    counts: bool
    retryable: bool
    retry_after: float | None = None


def status_failure(status: int, headers: Mapping[str, str], body: bytes) -> Failure:
    """The failure for a provider's answer with an error status."""
    detail = _error_detail(body)
    message = str(detail.get("message") or body[:300].decode(errors="replace")).strip()
    if status in _REFUSED:
        refusal = ProviderRefused(
            f"The model provider refused the request: {message}",
            status_code=status,
            param=_text(detail.get("param")),
            code=_text(detail.get("code")) or "provider_refused",
        )
        return Failure(refusal, counts=False, retryable=False)
    retry_after = headers.get("retry-after")
    kept = {"Retry-After": retry_after} if retry_after else {}
    if status == 429:
        error: PlatformError = ProviderRateLimited(
            "The model provider is rate limiting this platform; retry after the given delay.",
            code="provider_rate_limited", headers=kept,
        )  # fmt: skip
    elif status in _MISCONFIGURED:
        error = ProviderError(
            f"The model provider refused the platform's credentials or model name ({status}); "
            "an administrator must fix the deployment's settings.",
            code="provider_misconfigured",
        )
    else:
        error = ProviderError(
            f"The model provider failed with status {status}; retry later.",
            code="provider_failed", headers=kept,
        )  # fmt: skip
    return Failure(
        error,
        counts=status in _TRANSIENT or status in _MISCONFIGURED,
        retryable=status in _TRANSIENT,
        retry_after=_seconds(retry_after),
    )


def transport_failure(exc: BaseException) -> Failure:
    """The failure for an exception of the HTTP client before an answer arrived."""
    if isinstance(exc, TimeoutError):
        return Failure(timed_out(), counts=True, retryable=False)
    return Failure(
        ProviderError("The model provider is unreachable; retry later.",
                      code="provider_unreachable"),
        counts=True, retryable=True,
    )  # fmt: skip


def malformed(what: str) -> ProviderError:
    return ProviderError(
        f"The model provider sent {what}; the answer cannot be used.", code="provider_malformed"
    )


def timed_out() -> ProviderTimeout:
    return ProviderTimeout(
        "The model provider did not answer in time; retry later or ask for fewer tokens.",
        code="provider_timeout",
    )


def stream_failure(exc: BaseException) -> PlatformError:
    """The error for an exception of the HTTP client while a stream was being read."""
    if isinstance(exc, TimeoutError):
        return ProviderTimeout(
            "The model provider stopped sending mid-answer; retry later.",
            code="provider_timeout",
        )
    return ProviderError("The model provider cut the stream mid-answer.", code="provider_cut")


def _error_detail(body: bytes) -> dict[str, object]:
    try:
        detail = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    return detail if isinstance(detail, dict) else {"message": detail}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def early_failure(error: PlatformError) -> Failure:
    """The failure for an answer that went wrong before its first content reached anyone."""
    code = error.code
    if code == "provider_cut":
        return Failure(error, counts=True, retryable=True)
    # An error chunk, or a stream that ends with no answer (llama.cpp's reply to a prompt too
    # long for its context), may be the request's doing: it does not count.
    counts = code not in ("provider_failed", "provider_incomplete")
    return Failure(error, counts=counts, retryable=False)
