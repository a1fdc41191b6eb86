"""Graceful shutdown: on SIGTERM, refuse new work, let the work in flight finish, then stop.

The order, as a load balancer (Kubernetes) needs it:
1. `/ready` answers 503 at once, so the replica leaves the rotation;
2. new requests get 503 with `Connection: close` (`/health`, `/ready` and `/metrics` stay up);
3. requests and streams in flight go on, up to `shutdown_grace_seconds`;
4. then uvicorn stops, and the app's lifespan flushes the ledger and stops the model child.
A second SIGTERM or SIGINT stops at once.
"""

from __future__ import annotations

import asyncio
import logging
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import ServiceUnavailable, error_response

logger = logging.getLogger(__name__)

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
            await error_response(refusal)(scope, receive, send)
            return
        self.drain.entered()
        try:
            await self.app(scope, receive, send)
        finally:
            self.drain.left()


class GracefulServer(uvicorn.Server):
    """uvicorn's server, draining the app before it begins its own shutdown."""

    def __init__(self, config: uvicorn.Config, drain: Drain, grace_seconds: float) -> None:
        super().__init__(config)
        self._drain = drain
        self._grace = grace_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_task: asyncio.Task[None] | None = None  # held: the loop keeps weak refs

    async def serve(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain.draining or self._loop is None:
            super().handle_exit(sig, frame)  # a second signal: stop now
            return
        self._drain.begin()
        self._loop.call_soon_threadsafe(self._start_draining, sig)

    def _start_draining(self, sig: int) -> None:
        self._drain_task = asyncio.ensure_future(self._drain_then_exit(sig))

    async def _drain_then_exit(self, sig: int) -> None:
        logger.info(
            "draining: %d requests in flight, waiting up to %.0f s",
            self._drain.in_flight, self._grace,
        )  # fmt: skip
        if not await self._drain.wait_idle(self._grace):
            logger.warning("grace period over with %d requests in flight", self._drain.in_flight)
        super().handle_exit(sig, None)
