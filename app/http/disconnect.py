"""Stop work when the client goes away: LangServe's /invoke and /v1 don't by themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from app.errors import ClientDisconnected

T = TypeVar("T")


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """The result of `work`, or ClientDisconnected once the client leaves (work is cancelled).

    The work runs in the calling task, and a watcher cancels that task if the client leaves
    first: one task per request, not two (a tenth of a cached /v1 answer's time went to
    running the work in a task of its own). Call it after the request body has been read: it
    listens on the same channel.
    """
    current = asyncio.current_task()
    assert current is not None
    left = False

    async def watch() -> None:
        nonlocal left
        await _disconnected(request)
        left = True
        current.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not left:
            raise  # cancelled by another: not the client's leaving
        current.uncancel()  # the cancellation was the watcher's, and it is handled here
        raise ClientDisconnected from None
    finally:
        watcher.cancel()
