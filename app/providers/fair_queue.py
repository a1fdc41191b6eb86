"""A deployment's capacity, shared fairly: its calls wait their turn tenant by tenant.

The embedded model runs one generation at a time. Served in arrival order, one tenant's burst of
long streams would hold every other tenant back for as long as it lasts. Here a call beyond the
deployment's capacity waits in its tenant's line, and a freed slot goes to the tenants in turn
(the one served least recently first): a tenant's queued calls wait behind other tenants'
calls, not in front of them.

A tenant's line holds requests, and each request its own calls (a summary's parts are one
request's many calls): the line's bound counts requests, so one request's calls never fill
it, and the requests of a tenant take turns among themselves. A call's wait is bounded by how
long its request goes without a turn, not by how many calls of its own request are ahead of it.
Past either bound, a clear 429 or 503 with `Retry-After`. The queue is this process's: the
embedded model is each replica's own.

A batch's line (a `background` waiter) waits behind every interactive call: a freed slot goes
to it only while no interactive call waits, and it never takes a free slot ahead of one.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

from app.errors import RateLimited, ServiceUnavailable

Release = Callable[[], None]


class Waiter(NamedTuple):
    """Who a call waits for: its tenant, the request it is part of, and whether it is a
    batch's line (it waits behind interactive calls)."""

    tenant: str
    request: str
    background: bool = False


class _Request:
    """One request's calls waiting, in order, and when it last got a turn (or began waiting)."""

    def __init__(self, now: float) -> None:
        self.calls: deque[asyncio.Future[None]] = deque()
        self.progressed = now


class FairQueue:
    def __init__(self, name: str, capacity: int, per_tenant: int, timeout: float) -> None:
        self.name = name
        self._free = capacity
        self._per_tenant = per_tenant
        self._timeout = timeout
        self._lines: dict[str, dict[str, _Request]] = {}  # tenant -> its requests, in turn
        self._turns = itertools.count()
        self._last_turn: dict[str, int] = {}  # when each tenant was last given a slot
        self._background: deque[asyncio.Future[None]] = deque()  # batches' lines, in order

    @property
    def waiting(self) -> int:
        interactive = sum(len(r.calls) for line in self._lines.values() for r in line.values())
        return interactive + len(self._background)

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def acquire(self, waiter: Waiter) -> Release:
        """Wait for a slot; returns the function that gives it back (safe to call twice)."""
        if waiter.background:
            return await self._acquire_background()
        if self._free > 0 and not self._lines:
            self._free -= 1
            self._last_turn[waiter.tenant] = next(self._turns)
            return self._releaser()
        line = self._lines.setdefault(waiter.tenant, {})
        if waiter.request not in line and len(line) >= self._per_tenant:
            raise RateLimited(
                f"Tenant '{waiter.tenant}' already has {len(line)} requests waiting for the busy "
                f"model '{self.name}'; retry when some have finished.",
                code="queue_full", headers={"Retry-After": "1"},
            )  # fmt: skip
        request = line.get(waiter.request) or line.setdefault(waiter.request, _Request(self._now()))
        turn = asyncio.get_running_loop().create_future()
        request.calls.append(turn)
        try:
            while not turn.done():
                left = request.progressed + self._timeout - self._now()
                if left <= 0:
                    raise self._busy()
                await asyncio.wait({turn}, timeout=left)
        except BaseException:  # no turn in time, or the caller was cancelled (its client left)
            self._give_up(waiter, turn)
            raise
        return self._releaser()

    async def _acquire_background(self) -> Release:
        """A slot no interactive call waits for; a batch's line waits as long as it takes."""
        if self._free > 0 and not self._lines and not self._background:
            self._free -= 1
            return self._releaser()
        turn = asyncio.get_running_loop().create_future()
        self._background.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release()  # the slot came just as the caller gave up: pass it on
            elif turn in self._background:
                self._background.remove(turn)
            raise
        return self._releaser()

    def _releaser(self) -> Release:
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release()

        return release

    def _release(self) -> None:
        """Give the slot to the waiting tenant served least recently (its request waiting
        longest, which then goes to the back of the tenant's line), or free it."""
        while self._lines:
            tenant = min(self._lines, key=lambda name: self._last_turn.get(name, -1))
            line = self._lines[tenant]
            request_id, request = next(iter(line.items()))
            turn = request.calls.popleft()
            del line[request_id]
            if request.calls:
                request.progressed = self._now()
                line[request_id] = request  # behind the tenant's other requests
            if not line:
                del self._lines[tenant]
            if not turn.done():
                self._last_turn[tenant] = next(self._turns)
                turn.set_result(None)
                return
        while self._background:  # no interactive call waits: a batch's line may go
            turn = self._background.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    def _give_up(self, waiter: Waiter, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled():
            self._release()  # the slot came just as the caller gave up: pass it on
            return
        turn.cancel()
        line = self._lines.get(waiter.tenant, {})
        request = line.get(waiter.request)
        if request is not None and turn in request.calls:
            request.calls.remove(turn)
            if not request.calls:
                del line[waiter.request]
            if not line:
                del self._lines[waiter.tenant]

    def _busy(self) -> ServiceUnavailable:
        wait = max(1, math.ceil(self._timeout / 10))
        return ServiceUnavailable(
            f"The model '{self.name}' is busy: no turn came within {self._timeout:g} s; "
            "retry later.",
            code="model_busy", headers={"Retry-After": str(wait)},
        )  # fmt: skip
