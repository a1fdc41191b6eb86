"""What the edge and the routes share about one request, typed: one object per request.

The edge (`Edge`) opens it; dependencies and routes fill it in; the edge reads it back for the
response's headers and the request's log line. Read it with `request_state(request)` (or the
ASGI scope): no string keys on `request.state`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection
from starlette.types import Scope

_KEY = "genai"


@dataclass(slots=True)
class RequestState:
    request_id: str  # the platform's own: the ledger row's key, unique by construction
    client_request_id: str | None  # the client's X-Request-Id if it is sane; never unique
    tenant_id: str | None = None  # once the caller is known
    metered: bool = False  # its log line is written with its ledger row, not by the edge
    upstream_seconds: float = 0.0  # waiting on model providers, out of the request's time

    def open(self, scope: Scope) -> RequestState:
        scope.setdefault("state", {})[_KEY] = self
        return self


def request_state(source: HTTPConnection | Scope) -> RequestState:
    """The state the edge opened for this request."""
    scope = source.scope if isinstance(source, HTTPConnection) else source
    return scope["state"][_KEY]
