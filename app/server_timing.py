"""ASGI middleware adding `Server-Timing: platform;dur=…, upstream;dur=…` to every response.

Measured until the response starts; handlers add the time spent waiting on model providers
to `request.state.upstream_seconds`, the rest is the platform's own overhead.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPSTREAM_SECONDS = "upstream_seconds"


def add_upstream_time(scope_state: dict[str, Any], seconds: float) -> None:
    """Count `seconds` of waiting on a provider into the request's upstream time."""
    scope_state[UPSTREAM_SECONDS] = scope_state.get(UPSTREAM_SECONDS, 0.0) + seconds


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                total_ms = (time.perf_counter() - started) * 1000
                upstream_ms = float(state.get(UPSTREAM_SECONDS, 0.0)) * 1000
                MutableHeaders(scope=message)["server-timing"] = (
                    f"platform;dur={total_ms - upstream_ms:.2f}, upstream;dur={upstream_ms:.2f}"
                )
            await send(message)

        await self.app(scope, receive, send_with_timing)
