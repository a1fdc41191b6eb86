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
