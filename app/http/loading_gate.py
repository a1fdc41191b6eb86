"""Requests that need what loads after startup wait for it: every path but those that are
served from startup on (/v1 and the probes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class LoadingGate:
    def __init__(
        self, app: ASGIApp, loaded: Callable[[], Awaitable[None]], served_before: tuple[str, ...]
    ) -> None:
        self.app = app
        self._loaded = loaded
        self._served_before = served_before
        self._open = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        waits = scope["type"] == "http" and not scope["path"].startswith(self._served_before)
        if waits and not self._open:
            await self._loaded()  # raises what the client should hear if it failed
            self._open = True
        await self.app(scope, receive, send)
