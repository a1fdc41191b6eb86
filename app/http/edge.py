"""ASGI middleware: what every HTTP exchange gets at the platform's edge, in one wrapper.

- The request's `RequestState` (request_state.py): an id of the platform's own (the ledger row's
  key, unique by construction) and the client's `X-Request-Id` if it is sane (kept beside it,
  never trusted to be unique). `X-Request-Id` answers with the client's id if it sent one,
  else the platform's, on every response, errors included.
- `Server-Timing: platform;dur=…, upstream;dur=…`, measured until the response starts.
  Handlers add the time spent waiting on model providers to `upstream_seconds`; the rest is
  the platform's own overhead.
- The request's log line, unless the ledger describes it: metered requests (chains and /v1)
  are logged from their ledger row, with tokens and TTFT (`Metering`).
- The last resort for exceptions no handler took (bugs): a JSON 500 like every other error,
  with the headers above, and the connection kept. After the response has started nothing can
  be answered twice: the exception propagates and the server drops the connection, so a
  client never mistakes a cut response for a whole one.
One layer instead of several: every ASGI middleware costs a little on every request.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import client_error
from app.http.error_responses import error_response
from app.http.request_state import RequestState
from app.observability.logs import request_log

REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: Polled by load balancers and Prometheus: logged only when they fail.
_QUIET = frozenset({"/health", "/ready", "/metrics"})


class Edge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        client_request_id = given if _SANE_ID.match(given) else None
        state = RequestState(uuid.uuid4().hex, client_request_id).open(scope)
        echoed = client_request_id or state.request_id
        status = 500
        responded = False

        async def send_marked(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                total_ms = (time.perf_counter() - started) * 1000
                upstream_ms = state.upstream_seconds * 1000
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = echoed
                headers["server-timing"] = (
                    f"platform;dur={total_ms - upstream_ms:.2f}, upstream;dur={upstream_ms:.2f}"
                )
            await send(message)

        try:
            await self.app(scope, receive, send_marked)
        except Exception as exc:
            if responded:
                raise
            await error_response(client_error(exc), scope["path"])(scope, receive, send_marked)
        finally:
            if not state.metered and not (scope["path"] in _QUIET and status < 400):
                _log(scope, state, status, started)


def _log(scope: Scope, state: RequestState, status: int, started: float) -> None:
    fields = {
        "request_id": state.request_id,
        "client_request_id": state.client_request_id,
        "tenant": state.tenant_id,
        "route": scope["path"],
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    request_log.info("%s %s %d", scope["method"], scope["path"], status, extra={"request": fields})
