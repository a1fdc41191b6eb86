"""Errors users can act on, and the one place that renders them.

    PlatformError                 500 internal_error          (a bug; logged with its traceback)
    ├── InvalidRequest            422 invalid_request_error   (names the field)
    │   ├── BadRequest            400 invalid_request_error   (the same, as OpenAI answers it)
    │   └── ProviderRefused       4xx invalid_request_error   (the provider's status and code)
    ├── PayloadTooLarge           413 invalid_request_error
    ├── UnsupportedMediaType      415 invalid_request_error   (a body that is not JSON)
    ├── ClientDisconnected        499 client_closed_request   (the ledger's status; nobody reads it)
    ├── Unauthorized              401 authentication_error    (WWW-Authenticate: Bearer)
    ├── Forbidden                 403 permission_error
    ├── RateLimited               429 rate_limit_error        (Retry-After, X-RateLimit-*)
    ├── NotFound                  404 not_found_error
    ├── Conflict                  409 conflict                (a name taken already)
    ├── ServiceUnavailable        503 service_unavailable     (also: the database or Redis down)
    └── ProviderError             502 provider_error
        ├── ProviderRateLimited   429 rate_limit_error        (Retry-After when known)
        └── ProviderTimeout       504 timeout_error

Every error renders as `{"error": {"message", "type", "param", "code"}}` (OpenAI's shape) with
its status, both as an HTTP response and, after a stream has started, as an SSE `error` event;
under Anthropic's paths (/v1/messages) as `{"type": "error", "error": {"type", "message"}}`
with Anthropic's status and type, which its SDK reads (app/http/error_responses.py).
Failures of model providers are mapped onto the tree where they happen, in app/providers/
(failures.py): no exception of the HTTP client that calls them gets past that boundary.
`platform_error` maps any exception onto the tree: the one mapping behind every handler, the
edge's last resort and the ledger's status, so a client and the ledger never disagree and no
exception reaches a client as a bare "Internal Server Error". `client_error` is the same at the
point of delivery, where a bug's traceback is logged, once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

logger = logging.getLogger(__name__)


class PlatformError(Exception):
    status_code = 500
    type = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(PlatformError):
    status_code = 422
    type = "invalid_request_error"


class BadRequest(InvalidRequest):
    """OpenAI answers malformed requests with 400, and its SDK expects it (/v1)."""

    status_code = 400


class ProviderRefused(InvalidRequest):
    """A provider refused the request itself; its status, code and param are kept."""


class PayloadTooLarge(PlatformError):
    status_code = 413
    type = "invalid_request_error"


class UnsupportedMediaType(PlatformError):
    status_code = 415
    type = "invalid_request_error"


class ClientDisconnected(PlatformError):
    """The client closed the connection before the answer was complete."""

    status_code = 499
    type = "client_closed_request"

    def __init__(self) -> None:
        super().__init__("The client closed the connection.", code="client_closed_request")


class Unauthorized(PlatformError):
    status_code = 401
    type = "authentication_error"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", "invalid_api_key")
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(PlatformError):
    status_code = 403
    type = "permission_error"


class RateLimited(PlatformError):
    """A limit or budget of the caller's tenant or key; headers say when to retry."""

    status_code = 429
    type = "rate_limit_error"


class NotFound(PlatformError):
    status_code = 404
    type = "not_found_error"


class Conflict(PlatformError):
    status_code = 409
    type = "conflict"


class ServiceUnavailable(PlatformError):
    status_code = 503
    type = "service_unavailable"


class ProviderError(PlatformError):
    status_code = 502
    type = "provider_error"


class ProviderRateLimited(ProviderError):
    status_code = 429
    type = "rate_limit_error"


class ProviderTimeout(ProviderError):
    status_code = 504
    type = "timeout_error"


def platform_error(exc: BaseException) -> PlatformError:
    """The platform error a client should see for any exception raised while serving it."""
    if isinstance(exc, PlatformError):
        return exc
    if isinstance(exc, RequestValidationError):
        return invalid_request(exc.errors())
    if isinstance(exc, HTTPException):  # LangServe's and Starlette's own refusals
        kind = InvalidRequest if exc.status_code < 500 else PlatformError
        headers = dict(exc.headers or {})
        return kind(str(exc.detail), headers=headers, status_code=exc.status_code)
    if isinstance(exc, ClientDisconnect | asyncio.CancelledError):
        return ClientDisconnected()
    if isinstance(exc, OperationalError) or _redis_unavailable(exc):
        return ServiceUnavailable(
            "The platform's database or shared state does not answer right now; retry shortly.",
            code="state_unavailable",
            headers={"Retry-After": "1"},
        )
    return PlatformError(
        f"The server failed unexpectedly ({type(exc).__name__}); the failure is logged.",
        code="internal_error",
    )


def _redis_unavailable(exc: BaseException) -> bool:
    """A Redis connection or timeout error (Redis is imported only where it is configured)."""
    if "redis" not in sys.modules:
        return False
    from redis.exceptions import ConnectionError, TimeoutError

    return isinstance(exc, ConnectionError | TimeoutError)


def client_error(exc: BaseException) -> PlatformError:
    """`platform_error`, where it is sent to the client: a bug's traceback is logged here."""
    error = platform_error(exc)
    if type(error) is PlatformError and error.code == "internal_error":
        logger.error("unexpected error while serving a request", exc_info=exc)
    return error


def sse_error_event(exc: BaseException) -> dict[str, str]:
    """The SSE `error` event for a failure after a stream began (LangServe's event shape)."""
    error = client_error(exc)
    data = {"status_code": error.status_code, **error.body()["error"]}
    return {"event": "error", "data": json.dumps(data)}


def _field_name(location: tuple[object, ...]) -> str:
    """`("query", "session_id")` -> `session_id`: the field as the client named it."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(str(part) for part in parts)


def invalid_request(
    errors: Sequence[object], kind: type[InvalidRequest] = InvalidRequest
) -> InvalidRequest:
    """The error for a request that failed validation (pydantic's or FastAPI's error list)."""
    problems = [problem for problem in errors if isinstance(problem, dict)]
    if not problems:
        return invalid_json(None, kind)
    for problem in problems:
        if problem.get("type") == "json_invalid":
            return invalid_json((problem.get("ctx") or {}).get("error"), kind)
    fields = [_field_name(problem.get("loc", ())) for problem in problems]
    details = "; ".join(
        f"{field or 'body'}: {p.get('msg')}" for field, p in zip(fields, problems, strict=True)
    )
    return kind(
        f"Invalid request: {details}. Fix the named field and send again.",
        param=_named_field(fields) or None,
        code="invalid_field",
    )


def _named_field(fields: list[str]) -> str:
    """The field to name: the first one's, or, where pydantic tried each member of a union and
    reported them all (`input.constrained-str`, `input.list[constrained-str]`), the part
    they share (`input`), as the client named it."""
    first = fields[0].split(".")
    alike = [field.split(".") for field in fields if field.split(".")[0] == first[0]]
    shared = 0
    while all(len(parts) > shared and parts[shared] == first[shared] for parts in alike):
        shared += 1
    diverging = [parts[shared] for parts in alike if len(parts) > shared]
    if len(alike) == 1 or any(part.isdigit() for part in diverging):  # items of one list
        return fields[0]
    return ".".join(first[:shared])


def invalid_json(reason: str | None, kind: type[InvalidRequest] = InvalidRequest) -> InvalidRequest:
    because = f": {reason}" if reason else ""
    return kind(f"The request body is not valid JSON{because}.", code="invalid_json")
