"""Running batches: each replica claims lines from the shared database in small leases, runs
them through the path of an interactive call, and settles each once (storage/batches.py).

    claim ──> run the line (allow-lists, limits, budget, failover, ledger row) ──> settle
      ↑           └── refused by a limit for now: given back, claimed again later
      └── sweep: expire batches past their window, finalize those with every line settled

Interactive calls go first. A line is admitted within `batch_limit_share` of each limit, waits
behind interactive calls for a deployment's capacity (the fair queue), and shares this
replica's CPU as little as it may: while interactive model requests run here (or ran within
`BUSY_SECONDS`), one line at a time is started at most once per `batch_poll_seconds`; idle,
`batch_concurrency` at once. A batch whose tenant's budget is spent stops taking lines; the
lines not run are reported.

A line's ledger row has the request id `<batch id>-<line>`, written once: a line taken up
again after its replica died is billed once, and settled once (by its lease's holder).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.api.deps import allowed_route
from app.api.openai.batch_results import ABANDONED, EXPIRED, not_run, output_line
from app.errors import PlatformError, RateLimited, Unauthorized, client_error
from app.observability.metrics import Metrics
from app.settings import Settings
from app.storage.batch_leases import ClaimedLine
from app.storage.batches import BatchStore
from app.storage.files import StoredFile
from app.storage.ids import ordered_id
from app.tenants.models import Principal
from app.tenants.service import TenantService
from app.usage.call_meter import BatchLine
from app.usage.lifecycle import MeteredRequest, Metering

logger = logging.getLogger(__name__)

#: A batch's line answered whole: its endpoint's body, through the interactive path.
Answerer = Callable[[dict[str, Any], Principal, MeteredRequest], Awaitable[dict[str, Any]]]


#: How recently an interactive request must have ended for the replica to count as busy.
BUSY_SECONDS = 0.1
#: An idle replica's polls slow down, doubling up to 2**3 = 8 times `batch_poll_seconds`: a
#: batch created on another replica is joined by this one within that.
IDLE_DOUBLINGS = 4


def line_request_id(claimed: ClaimedLine) -> str:
    return f"{claimed.batch_id}-{claimed.line}"


class BatchRunner:
    def __init__(
        self, store: BatchStore, tenants: TenantService, metering: Metering,
        answerers: Mapping[str, Answerer], settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self._store = store
        self._tenants = tenants
        self._metering = metering
        self._metrics: Metrics = metering.metrics
        self._answerers = answerers
        self._started_at = float("-inf")  # when this replica last started a line (monotonic)
        self._clock = clock
        self._concurrency = settings.batch_concurrency
        self._lease = settings.batch_lease_seconds
        self._poll = settings.batch_poll_seconds
        self._running: dict[asyncio.Task[None], ClaimedLine] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()), asyncio.create_task(self._renewing())]

    def wake(self) -> None:
        """Look for lines now (a batch was created, a line ended), not at the next poll."""
        self._changed.set()

    async def stop(self, grace: float) -> None:
        """Take no more lines; let those running end within `grace`, then give the rest
        back, for another replica to take up at once."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        left = dict(self._running)
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        for claimed in left.values():
            with contextlib.suppress(Exception):
                await self._store.leases.release(claimed, 0.0)

    # --- the loop --------------------------------------------------------------------------

    def _room(self) -> int:
        """Lines this replica may start now (the module doc says how interactive requests
        hold them back)."""
        metering, now = self._metering, time.monotonic()
        if metering.interactive or now - metering.interactive_ended_at < BUSY_SECONDS:
            return int(not self._running and now - self._started_at >= self._poll)
        return self._concurrency - len(self._running)

    async def _work(self) -> None:
        swept = float("-inf")
        idle = 0  # polls in a row that found nothing to do: the next one waits longer
        while True:
            self._changed.clear()
            claimed: list[ClaimedLine] = []
            room = 0
            try:
                now = self._clock()
                room = self._room()
                if room > 0:
                    claimed = await self._store.leases.claim(now, self._lease, room)
                if claimed:
                    self._started_at = time.monotonic()
                for line in claimed:
                    task = asyncio.create_task(self._run(line))
                    self._running[task] = line
                    task.add_done_callback(self._ended)
                if (room > 0 and not claimed) or now - swept >= self._poll:
                    swept = now
                    await self._sweep(now)
            except Exception:  # the database is away: try again at the next poll
                logger.warning("batch work failed; trying again", exc_info=True)
            if claimed and self._room() > 0:
                continue
            found_none = room > 0 and not claimed and not self._running
            idle = min(idle + 1, IDLE_DOUBLINGS) if found_none else 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._poll * 2 ** max(idle - 1, 0))

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._changed.set()

    async def _renewing(self) -> None:
        """Hold the running lines' leases while they run."""
        while True:
            await asyncio.sleep(self._lease / 3)
            leases = list({claimed.lease for claimed in self._running.values()})
            try:
                await self._store.leases.renew(leases, self._clock() + self._lease)
            except Exception:
                logger.warning("could not renew batch leases", exc_info=True)

    async def _sweep(self, now: float) -> None:
        for batch_id in await self._store.overdue(now):
            await self._store.stop(batch_id, "expired", None, EXPIRED)
        await self._store.leases.abandon(now, ABANDONED)
        # before finalizing: a batch that ran between two sweeps is named once, with 0
        self._metrics.batch_depth(await self._store.depth())
        for batch_id in await self._store.finishable(now):
            await self._finalize(batch_id, now)

    # --- one line ----------------------------------------------------------------------------

    async def _run(self, claimed: ClaimedLine) -> None:
        request_id = line_request_id(claimed)
        metered = MeteredRequest(self._metering, request_id, None,
                                 BatchLine(claimed.batch_id, claimed.custom_id))  # fmt: skip
        try:
            principal = allowed_route(
                await self._tenants.aprincipal_for_key_id(claimed.key_id), "v1"
            )
            body = await self._answerers[claimed.endpoint](claimed.body, principal, metered)
        except Exception as exc:
            error = client_error(exc)
            await metered.close(error.status_code)
            await self._refused(claimed, error, metered.admitted)
            return
        response = {"status_code": 200, "request_id": request_id, "body": body}
        await self._store.leases.settle(claimed, "done", {"response": response, "error": None})
        self._metrics.batch_lines.labels(claimed.tenant_id, "done").inc()

    async def _refused(self, claimed: ClaimedLine, error: PlatformError, admitted: bool) -> None:
        """A line that did not answer: given back if a limit refused it for now, the batch
        stopped if its budget is spent or its key revoked, else failed with the error."""
        if isinstance(error, Unauthorized) or error.code in ("budget_exceeded",
                                                             "route_not_allowed"):  # fmt: skip
            result = not_run(error.code or "unauthorized", error.message)
            errors = [{"code": error.code, "message": error.message, "param": None,
                       "line": claimed.line}]  # fmt: skip
            await self._store.stop(claimed.batch_id, "failed", errors, result)
            await self._store.leases.settle(claimed, "skipped", result)
            return
        if isinstance(error, RateLimited) and not admitted:  # a limit, for now: later
            retry_after = float(error.headers.get("Retry-After", "1"))
            await self._store.leases.release(claimed, self._clock() + retry_after)
            return
        response = {"status_code": error.status_code, "request_id": line_request_id(claimed),
                    "body": error.body()}  # fmt: skip
        await self._store.leases.settle(claimed, "failed", {"response": response, "error": None})
        self._metrics.batch_lines.labels(claimed.tenant_id, "failed").inc()

    # --- the end of a batch ------------------------------------------------------------------

    async def _finalize(self, batch_id: str, now: float) -> None:
        """Write the batch's output and error files and end it (one replica does)."""
        if not await self._store.begin_finalizing(batch_id, now, self._lease):
            return
        batch = await self._store.get(None, batch_id)
        if batch is None:
            return
        answered, unanswered = bytearray(), bytearray()
        for settled in await self._store.settled(batch_id):
            target = answered if settled.state == "done" else unanswered
            target += output_line(batch_id, settled)
        files: list[tuple[StoredFile, bytes]] = []
        ids: list[str | None] = []
        for kind, content in (("output", answered), ("error", unanswered)):
            if not content:
                ids.append(None)
                continue
            stored = StoredFile(ordered_id("file-"), f"{batch_id}_{kind}.jsonl",
                                "batch_output", len(content), int(now))  # fmt: skip
            files.append((stored, bytes(content)))
            ids.append(stored.id)
        await self._store.finish(batch, now, files, ids[0], ids[1])
