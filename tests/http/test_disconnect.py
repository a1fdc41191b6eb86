"""`until_disconnected`: the work's result while the client stays; once it leaves, the work is
cancelled at once and the request ends as a disconnect."""

from __future__ import annotations

import asyncio

import pytest
from starlette.requests import Request

from app.errors import ClientDisconnected
from app.http.disconnect import until_disconnected


def _request(leaves_after: float | None) -> Request:
    """A request whose client leaves after `leaves_after` seconds (None: it stays)."""

    async def receive() -> dict[str, object]:
        if leaves_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(leaves_after)
        return {"type": "http.disconnect"}

    return Request({"type": "http", "method": "POST", "headers": []}, receive)


async def test_the_works_result_comes_back_while_the_client_stays():
    async def work() -> str:
        await asyncio.sleep(0.01)
        return "answer"

    assert await until_disconnected(_request(None), work()) == "answer"


async def test_a_client_that_leaves_cancels_the_work_at_once():
    cancelled = asyncio.Event()

    async def long_work() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    started = asyncio.get_running_loop().time()
    with pytest.raises(ClientDisconnected):
        await until_disconnected(_request(0.02), long_work())
    assert cancelled.is_set()
    assert asyncio.get_running_loop().time() - started < 1


async def test_the_works_own_failure_is_raised_as_it_is():
    async def failing() -> str:
        raise ValueError("the provider said no")

    with pytest.raises(ValueError, match="the provider said no"):
        await until_disconnected(_request(None), failing())


async def test_the_request_goes_on_after_a_disconnect_without_a_cancellation_pending():
    """The work runs in the caller's task, which the watcher cancels: once that is turned into
    ClientDisconnected, the task must not stay cancelled (its closing and logging go on)."""
    with pytest.raises(ClientDisconnected):
        await until_disconnected(_request(0.01), asyncio.sleep(30))
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0.01)  # no stray CancelledError


async def test_a_cancellation_from_elsewhere_stays_a_cancellation():
    started = asyncio.Event()

    async def work() -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    task = asyncio.ensure_future(until_disconnected(_request(None), work()))
    await started.wait()
    task.cancel()  # the server shutting down, say: not the client leaving
    with pytest.raises(asyncio.CancelledError):
        await task
