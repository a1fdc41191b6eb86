"""The one lifecycle of every model-calling request: admitted, metered, closed into one row.

    MeteredRequest ── admit(principal, route, planned calls)  allow-lists, limits, reservation
         │               └── CallMeter: watches each model call (reserves more if needed)
         └── close(status)  exactly once: settle the reservation, write the ledger row, log

A route gets its `MeteredRequest` from its endpoint (`MeteredEndpoint` in app/api/deps.py),
which closes it when the request ends, however it ends: a route closes it itself
only to write the row before its answer (or a stream's last event) goes out. Closing is
idempotent, so slots and reservations are released on every path, including failures nobody
foresaw; a client that left is recorded with status 499. A request whose work goes on after its
response (a stream kept for resumption) names that work's task (`goes_on_in`): the request's
end then closes it only when the task ends, so its row still counts everything the task did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from app.errors import platform_error
from app.observability.logs import request_log
from app.observability.metrics import Metrics
from app.providers import Prompt
from app.settings import Settings
from app.tenants.models import Principal
from app.usage.call_meter import BatchLine, CallMeter, MeterServices, model_not_allowed

logger = logging.getLogger(__name__)

#: Room for the prompt template around the client's input. Reserving the whole bound at
#: admission matters: requests admitted on less, then refused when the model call tops up,
#: would crowd each other out of a nearly spent budget.
TEMPLATE_ALLOWANCE = 256
#: The ledger's route of a shared tool's calls (its `tool` column names which).
TOOLS_ROUTE = "tools"


@dataclass(frozen=True)
class PlannedCall:
    """A model call a request is about to make: its alias, the most tokens it can use, and
    the images it asks for at their price each."""

    alias: str
    tokens: int
    images: int = 0
    image_price: float = 0.0


class Metering:
    """Builds and closes meters; one per app, built at startup."""

    def __init__(self, services: MeterServices, settings: Settings, metrics: Metrics) -> None:
        self._services = services
        self._settings = settings
        self.metrics = metrics
        self._closing: set[asyncio.Task[Any]] = set()
        #: Interactive requests admitted and not closed (a batch's lines are not), and when
        #: the last one closed (monotonic seconds): what a batch's lines give way to.
        self.interactive = 0
        self.interactive_ended_at = float("-inf")

    async def admit(
        self, principal: Principal, route: str, planned: Sequence[PlannedCall],
        request_id: str, client_request_id: str | None, batch: BatchLine | None = None,
        cache_control: str | None = None, via: str | None = None,
    ) -> CallMeter:  # fmt: skip
        """Check the model allow-list and admit the request (or raise 403 / 429); a batch's
        line within `batch_limit_share` of each limit, the rest kept for interactive calls."""
        aliases: list[str] = []
        prices, batched = self._services.prices, batch is not None
        tokens = cost = images = 0
        for call in planned:
            if call.alias not in aliases:
                if not principal.may_use_model(call.alias):
                    raise model_not_allowed(principal, call.alias)
                aliases.append(call.alias)
            tokens += call.tokens
            cost += prices.upper_bound(call.alias, call.tokens, batched)
            cost += call.images * call.image_price
            images += call.images
        share = self._settings.batch_limit_share if batched else 1.0
        ticket = await self._services.admission.admit(principal, tokens, cost, images, share)
        if not batched:
            self.interactive += 1
        return CallMeter(
            self._services, principal, ticket, route=route, model=ledger_label(aliases),
            request_id=request_id, client_request_id=client_request_id, batch=batch,
            cache_control=cache_control, via=via,
        )  # fmt: skip

    async def admit_tool(
        self, principal: Principal, tool: str, request_id: str, client_request_id: str | None,
        via: str | None,
    ) -> CallMeter:  # fmt: skip
        """Admit a shared tool call (or raise 429): its row names the tool, on route `tools`."""
        ticket = await self._services.admission.admit_tool(principal)
        self.interactive += 1
        return CallMeter(
            self._services, principal, ticket, route=TOOLS_ROUTE, model=None,
            request_id=request_id, client_request_id=client_request_id, via=via, tool=tool,
        )  # fmt: skip

    def prompt_tokens(self, alias: str, prompt: Prompt) -> int:
        """The tokens `prompt` takes on `alias`, by the rule its calls are counted by."""
        local = alias in self._services.local_aliases
        return self._services.counter.count(local, prompt, "")[0]

    def close(self, meter: CallMeter, status: int, interrupted: bool) -> asyncio.Task[Any]:
        """Write the ledger row in a task of its own: a disconnect cannot cancel it."""
        meter.account.closed = True  # no model call is charged to it any more
        if meter.batch is None:
            self.interactive -= 1
            self.interactive_ended_at = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._finish(meter, status, interrupted))
        self._closing.add(task)
        task.add_done_callback(self._closed)
        return task

    async def _finish(self, meter: CallMeter, status: int, interrupted: bool) -> None:
        row = await meter.finish(status, interrupted)
        self.metrics.observe(row)
        fields = {
            "request_id": row.request_id, "client_request_id": row.client_request_id,
            "tenant": row.tenant_id, "route": row.route,
            "model": row.model, "status": row.status, "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens, "token_source": row.token_source,
            "cost_usd": row.cost_usd, "prompt": row.prompt,
            "latency_ms": round(row.latency_ms, 2),
            "ttft_ms": None if row.ttft_ms is None else round(row.ttft_ms, 2),
            "interrupted": row.interrupted, "guardrails": row.guardrails, "via": row.via,
            "tool": row.tool,
        }  # fmt: skip
        if self._settings.log_prompts:
            fields.update(meter.texts())
        request_log.info("%s %d", row.route, row.status, extra={"request": fields})

    def _closed(self, task: asyncio.Task[Any]) -> None:
        self._closing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("writing a usage row failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for every ledger row still being written (at shutdown)."""
        while self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def ledger_label(values: list[str]) -> str | None:
    """A ledger column naming one thing or a batch's several (its model aliases, its prompt
    versions), in the column's 64 characters: `a,b`, or `a+2 more`."""
    distinct = list(dict.fromkeys(values))
    if not distinct:
        return None
    joined = ",".join(distinct)
    return joined if len(joined) <= 64 else f"{distinct[0]}+{len(distinct) - 1} more"


class MeteredRequest:
    """One request's metering, from admission to its one ledger row (see the module doc)."""

    def __init__(
        self, metering: Metering, request_id: str, client_request_id: str | None = None,
        batch: BatchLine | None = None, cache_control: str | None = None,
        via: str | None = None,
    ) -> None:  # fmt: skip
        """`cache_control`: the request's Cache-Control header, what it asks of the cache;
        `via`: how it came in, when not as an HTTP request to its route (`mcp`)."""
        self._metering = metering
        self._cache_control = cache_control
        self._via = via
        self.metrics: Metrics = metering.metrics
        self.request_id = request_id
        self.client_request_id = client_request_id
        self._batch = batch
        self._meter: CallMeter | None = None
        self._closing: asyncio.Task[Any] | None = None
        self._goes_on: asyncio.Task[Any] | None = None

    @property
    def meter(self) -> CallMeter:
        if self._meter is None:
            raise RuntimeError("the request was not admitted")
        return self._meter

    async def admit(
        self, principal: Principal, route: str, planned: Sequence[PlannedCall]
    ) -> CallMeter:
        if self._meter is not None:
            raise RuntimeError("a request is admitted once")
        self._meter = await self._metering.admit(
            principal, route, planned, self.request_id, self.client_request_id, self._batch,
            self._cache_control, self._via,
        )  # fmt: skip
        return self._meter

    async def admit_tool(self, principal: Principal, tool: str) -> CallMeter:
        """Admitted as a call of the shared tool `tool` (`server.tool`), not a model's."""
        if self._meter is not None:
            raise RuntimeError("a request is admitted once")
        self._meter = await self._metering.admit_tool(
            principal, tool, self.request_id, self.client_request_id, self._via
        )
        return self._meter

    @property
    def admitted(self) -> bool:
        """Admitted: its ledger row describes the request (and is its log line)."""
        return self._meter is not None

    @property
    def closed(self) -> bool:
        """Nothing left to close: its row is being written or was, or it was never admitted."""
        return self._meter is None or self._closing is not None

    @asynccontextmanager
    async def closing(self) -> AsyncIterator[None]:
        """Closes the request with the status of whatever the block raises (499 for a client
        that left or a cancelled call), the row written even as the block is cancelled; a
        block that ends well leaves the closing to the caller."""
        try:
            yield
        except BaseException as exc:
            error = platform_error(exc)
            with anyio.CancelScope(shield=True):
                await self.close(error.status_code, interrupted=error.status_code == 499)
            raise

    def goes_on_in(self, task: asyncio.Task[Any]) -> None:
        """The request's work continues in `task`, past its response (see the module doc)."""
        self._goes_on = task

    async def close(self, status: int, *, interrupted: bool = False) -> None:
        """Write the row (once; later calls wait for the first). Nothing if never admitted.
        While the task the request goes on in runs, only that task may close it: others'
        closing waits until it ends (as `status` if the task did not close it itself)."""
        if self._meter is None:
            return
        work = self._goes_on
        if work is not None and work is not asyncio.current_task() and not work.done():
            await asyncio.wait({work})
        if self._closing is None:
            self._closing = self._metering.close(self._meter, status, interrupted)
        await asyncio.shield(self._closing)
