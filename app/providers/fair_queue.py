"""A deployment's capacity, shared fairly: its calls wait their turn tenant by tenant.

The embedded model runs one generation at a time. Served in arrival order, one tenant's burst of
long streams would hold every other tenant back for as long as it lasts. Here a call beyond the
deployment's capacity waits in its tenant's line, and a freed slot goes to the tenants in turn
(the one served least recently first): a tenant's queued calls wait behind other tenants'
calls, not in front of them.
Each tenant's line is bounded, and so is the wait: past either, a clear 429 or 503 with
`Retry-After`. The queue is this process's: the embedded model is each replica's own.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import deque
from collections.abc import Callable

from app.errors import RateLimited, ServiceUnavailable

Release = Callable[[], None]


class FairQueue:
    def __init__(self, name: str, capacity: int, per_tenant: int, timeout: float) -> None:
        self.name = name
        self._free = capacity
        self._per_tenant = per_tenant
        self._timeout = timeout
        self._lines: dict[str, deque[asyncio.Future[None]]] = {}
        self._turns = itertools.count()
        self._last_turn: dict[str, int] = {}  # when each tenant was last given a slot

    @property
    def waiting(self) -> int:
        return sum(len(line) for line in self._lines.values())

    async def acquire(self, tenant: str) -> Release:
        """Wait for a slot; returns the function that gives it back (safe to call twice)."""
        if self._free > 0 and not self._lines:
            self._free -= 1
            self._last_turn[tenant] = next(self._turns)
            return self._releaser()
        line = self._lines.setdefault(tenant, deque())
        if len(line) >= self._per_tenant:
            raise RateLimited(
                f"Tenant '{tenant}' already has {len(line)} requests waiting for the busy model "
                f"'{self.name}'; retry when some have finished.",
                code="queue_full", headers={"Retry-After": "1"},
            )  # fmt: skip
        turn = asyncio.get_running_loop().create_future()
        line.append(turn)
        try:
            async with asyncio.timeout(self._timeout):
                await turn
        except TimeoutError:
            self._give_up(tenant, turn)
            raise self._busy() from None
        except BaseException:  # the caller was cancelled (its client left)
            self._give_up(tenant, turn)
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
        """Give the slot to the waiting tenant served least recently, or free it."""
        while self._lines:
            tenant = min(self._lines, key=lambda name: self._last_turn.get(name, -1))
            line = self._lines[tenant]
            turn = line.popleft()
            if not line:
                del self._lines[tenant]
            if not turn.done():
                self._last_turn[tenant] = next(self._turns)
                turn.set_result(None)
                return
        self._free += 1

    def _give_up(self, tenant: str, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled():
            self._release()  # the slot came just as the caller gave up: pass it on
            return
        turn.cancel()
        line = self._lines.get(tenant)
        if line is not None and turn in line:
            line.remove(turn)
            if not line:
                del self._lines[tenant]

    def _busy(self) -> ServiceUnavailable:
        wait = max(1, math.ceil(self._timeout / 10))
        return ServiceUnavailable(
            f"The model '{self.name}' is busy: no turn came within {self._timeout:g} s; "
            "retry later.",
            code="model_busy", headers={"Retry-After": str(wait)},
        )  # fmt: skip
