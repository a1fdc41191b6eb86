"""Opening and closing a request's meter: allow-lists and admission in, the ledger row out."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import State

from app.errors import Forbidden
from app.logs import request_log
from app.metrics import Metrics
from app.settings import Settings
from app.tenants.models import Principal
from app.usage.meter import MeterServices, RequestMeter

logger = logging.getLogger(__name__)

#: Room for the prompt template around the client's input. Reserving the whole bound at
#: admission matters: requests admitted on less, then refused when the model call tops up,
#: would crowd each other out of a nearly spent budget.
TEMPLATE_ALLOWANCE = 256


class Metering:
    def __init__(self, services: MeterServices, settings: Settings, metrics: Metrics) -> None:
        self._services = services
        self._settings = settings
        self.metrics = metrics
        self._closing: set[asyncio.Task[Any]] = set()

    def model_alias(self, route: str, configurable: Mapping[str, Any]) -> str:
        alias = configurable.get("model")
        return alias if isinstance(alias, str) else self._settings.model_for(route)

    async def open(
        self,
        principal: Principal,
        route: str,
        inputs: list[Any],
        configurable: Mapping[str, Any],
        request_state: State,
    ) -> RequestMeter:
        """Check the model allow-list and admit the request (or raise 403 / 429).

        An admitted request's log line is written with its ledger row, not by `Edge`.
        """
        alias = self.model_alias(route, configurable)
        if alias in self._settings.models and not principal.may_use_model(alias):
            allowed = ", ".join(principal.tenant.allowed_models or [])
            raise Forbidden(
                f"Tenant '{principal.tenant.id}' may not use model '{alias}'; allowed: {allowed}.",
                param="config.configurable.model",
                code="model_not_allowed",
            )
        max_tokens = configurable.get("max_tokens")
        per_input = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 0
        tokens = sum(
            len(json.dumps(item).encode()) + TEMPLATE_ALLOWANCE + per_input for item in inputs
        )
        cost = self._services.prices.upper_bound(alias, tokens)
        ticket = await self._services.admission.admit(principal, tokens, cost)
        request_state.metered = True
        return RequestMeter(
            self._services, principal, ticket, route=route, model=alias,
            request_id=request_state.request_id,
            client_request_id=request_state.client_request_id,
        )  # fmt: skip

    def close(self, meter: RequestMeter, status: int, interrupted: bool) -> asyncio.Task[Any]:
        """Write the ledger row in a task of its own: a disconnect cannot cancel it."""
        task = asyncio.get_running_loop().create_task(self._finish(meter, status, interrupted))
        self._closing.add(task)
        task.add_done_callback(self._closed)
        return task

    async def aclose(self, meter: RequestMeter, status: int, interrupted: bool) -> None:
        """Write the ledger row before answering, so the client's next read sees it."""
        await asyncio.shield(self.close(meter, status, interrupted))

    async def _finish(self, meter: RequestMeter, status: int, interrupted: bool) -> None:
        row = await meter.finish(status, interrupted)
        self.metrics.observe(row)
        fields = {
            "request_id": row.request_id, "client_request_id": row.client_request_id,
            "tenant": row.tenant_id, "route": row.route,
            "model": row.model, "status": row.status, "input_tokens": row.input_tokens,
            "output_tokens": row.output_tokens, "token_source": row.token_source,
            "cost_usd": row.cost_usd, "latency_ms": round(row.latency_ms, 2),
            "ttft_ms": None if row.ttft_ms is None else round(row.ttft_ms, 2),
            "interrupted": row.interrupted,
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
