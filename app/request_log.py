"""ASGI middleware writing the request line of every request the ledger does not describe.

Metered requests (chains and /v1) are logged from their ledger row, with tokens and TTFT, when
it is written (`Metering`); everything else (refusals, admin, usage, health) is logged here.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import request_log

#: Polled by load balancers and Prometheus: logged only when they fail.
_QUIET = frozenset({"/health", "/ready", "/metrics"})


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            state = scope.get("state", {})
            quiet = scope["path"] in _QUIET and status < 400
            if not state.get("metered") and not quiet:
                principal = state.get("principal")
                request_log.info(
                    "%s %s %d", scope["method"], scope["path"], status,
                    extra={"request": {
                        "request_id": state.get("request_id"),
                        "tenant": principal.tenant.id if principal else None,
                        "route": scope["path"],
                        "status": status,
                        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
                    }},
                )  # fmt: skip
