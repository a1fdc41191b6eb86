"""An error as each dialect's clients read it, chosen by the path it answers: Anthropic's
shape and statuses under /v1/messages, OpenAI's elsewhere (the platform's own), and the
handlers that render the expected exceptions so (errors.py has the errors themselves)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.errors import PlatformError, client_error

#: Paths that answer in Anthropic's dialect, errors included.
ANTHROPIC_PATHS = "/v1/messages"
OPENAI_PATHS = "/v1/"
#: Anthropic's error type for each status; any other 5xx is its `api_error`.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 413: "request_too_large",
    429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error",
}  # fmt: skip


def anthropic_status(error: PlatformError) -> int:
    """The status Anthropic answers `error` with: a request it cannot read is a 400."""
    return 400 if error.status_code in (415, 422) else error.status_code


def anthropic_body(error: PlatformError) -> dict[str, Any]:
    """`error` in Anthropic's shape; its message names the field, as in OpenAI's."""
    status = anthropic_status(error)
    kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def error_response(error: PlatformError, path: str = "") -> JSONResponse:
    """The error's response, in the dialect of the path it answers."""
    if path.startswith(ANTHROPIC_PATHS):
        body, status = anthropic_body(error), anthropic_status(error)
    elif path.startswith(OPENAI_PATHS) and error.status_code == 422:
        body, status = error.body(), 400  # OpenAI's status for a request it cannot read
    else:
        body, status = error.body(), error.status_code
    return JSONResponse(body, status_code=status, headers=error.headers)


def register_error_handlers(app: FastAPI) -> None:
    """Render the expected exceptions as platform error bodies. Anything else is a bug, answered
    in the same shape by `Edge` (which Starlette's last-resort handler would bypass)."""

    async def render(request: Request, exc: Exception) -> JSONResponse:
        return error_response(client_error(exc), request.url.path)

    for expected in (PlatformError, RequestValidationError, HTTPException):
        app.add_exception_handler(expected, render)
