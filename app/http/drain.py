"""Draining: a replica that is shutting down refuses new work and lets the work in flight finish.

`Drain` holds the state (set by the server on SIGTERM, read by `/ready`); `DrainGate` is the ASGI
middleware that counts requests in flight and refuses new ones with 503 while draining
(`/health`, `/ready` and `/metrics` stay up). app/server/graceful.py says in which order.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ServiceUnavailable
from app.http.error_responses import error_response

#: Routes a load balancer or Prometheus keeps calling while the replica drains.
ALWAYS_SERVED = frozenset({"/health", "/ready", "/metrics"})


class Drain:
    """Whether the replica is draining, and how many requests are still in flight."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        self.draining = True

    def entered(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def left(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True when nothing is in flight any more; False when the timeout came first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class DrainGate:
    """ASGI middleware: counts requests in flight, and refuses new ones while draining."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS_SERVED:
            await self.app(scope, receive, send)
            return
        if self.drain.draining:
            refusal = ServiceUnavailable(
                "This replica is shutting down; retry the request (another replica will take it).",
                code="shutting_down",
                headers={"Retry-After": "1", "Connection": "close"},
            )
            await error_response(refusal, scope["path"])(scope, receive, send)
            return
        self.drain.entered()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.left()
