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

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The app's own coroutine for a request that need not wait (no frame of the gate's
        stays under it), else one that waits first."""
        if self._open or scope["type"] != "http" or scope["path"].startswith(self._served_before):
            return self.app(scope, receive, send)
        return self._after_loading(scope, receive, send)

    async def _after_loading(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._loaded()  # raises what the client should hear if it failed
        self._open = True
        await self.app(scope, receive, send)
