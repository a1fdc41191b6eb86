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

from app.http.drain import Drain

logger = logging.getLogger(__name__)


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
