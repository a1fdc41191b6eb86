"""Run an ASGI app on a loopback port in a background thread, for tests over real sockets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from app.providers.local_server import free_loopback_port
from app.server.transport import uvicorn_config
from app.settings import Settings


@contextmanager
def serving(app: ASGIApp, settings: Settings | None = None) -> Iterator[str]:
    """Yields the server's base URL; stops it on exit. With `settings`, the server is
    configured as `genai serve` configures it (its transport limits)."""
    port = free_loopback_port()
    options = {"host": "127.0.0.1", "port": port, "log_level": "warning",
               "timeout_graceful_shutdown": 1}  # fmt: skip
    config = (
        uvicorn_config(app, settings, **options) if settings else uvicorn.Config(app, **options)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
