"""Admission: a caller's key and tenant limits and its tenant's budget, checked as one step.

Refusals are 429s that say which limit refused and when to retry (`Retry-After`,
`X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from app.errors import RateLimited
from app.limits.store import BudgetScope, Denied, LimitStore, Scope, Ticket
from app.tenants.models import Principal, Tenant

SpentLoader = Callable[[str, datetime, datetime], Awaitable[float]]

_LIMIT_NAMES = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "max_concurrent": "concurrent requests",
    "ipm": "images per minute",
    "tool_rpm": "shared tool calls per minute",
}

_PERIOD_NAMES = {"day": "daily", "month": "monthly"}


def budget_period(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC day or calendar month containing `now`: (start, end)."""
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start, start + timedelta(days=1)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _shared(limit: int | None, share: float) -> int | None:
    """`share` of a limit: at least 1, so that work held to it still runs."""
    return None if limit is None else max(1, math.floor(limit * share))


def _scopes(principal: Principal, share: float = 1.0) -> tuple[Scope, ...]:
    """The key's and the tenant's limits (`share` of each); one with no limit at all is not
    tracked. A share is counted with the whole, so work held to half of a limit leaves the
    other half to the rest."""
    key, tenant = principal.key, principal.tenant
    limited: tuple[Scope, ...] = ()
    for scope in (
        Scope(f"key:{key.id}", key.rpm, key.tpm, key.max_concurrent, key.ipm),
        Scope(f"tenant:{tenant.id}", tenant.rpm, tenant.tpm, tenant.max_concurrent, tenant.ipm),
    ):
        if scope.limited:
            if share < 1:
                scope = Scope(
                    scope.name, _shared(scope.rpm, share), _shared(scope.tpm, share),
                    _shared(scope.max_concurrent, share), _shared(scope.ipm, share),
                )  # fmt: skip
            limited += (scope,)
    return limited


def _refusal(denied: Denied, principal: Principal, budget_end: datetime | None) -> RateLimited:
    retry_after = max(1, math.ceil(round(denied.retry_after, 3)))  # 60.000000001 is 60
    headers = {
        "Retry-After": str(retry_after),
        "X-RateLimit-Limit": f"{denied.allowed:g}",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(retry_after),
    }
    if denied.limit == "budget":
        tenant = principal.tenant
        message = (
            f"Tenant '{tenant.id}' has used its {_PERIOD_NAMES[tenant.budget_period]} budget of "
            f"${tenant.budget_usd:g}; it resets at {budget_end:%Y-%m-%d %H:%M} UTC."
        )
        return RateLimited(message, code="budget_exceeded", headers=headers)
    who = "this key" if denied.scope.startswith("key:") else f"tenant '{principal.tenant.id}'"
    message = (
        f"Limit of {denied.allowed:g} {_LIMIT_NAMES[denied.limit]} for {who} reached; "
        f"retry after {retry_after} s."
    )
    return RateLimited(message, code=f"{denied.limit}_exceeded", headers=headers)


OnRefusal = Callable[[str, str], None]


class BudgetNow(BaseModel):
    limit_usd: float
    spent_usd: float
    reserved_usd: float = 0.0  # by requests still running
    resets_at: datetime


class TenantLoad(BaseModel):
    """What a tenant uses right now, against its limits (counted while it has any)."""

    tenant_id: str
    running: int
    requests_last_minute: int
    tokens_last_minute: int
    images_last_minute: int
    budget: BudgetNow | None


class Admission:
    def __init__(
        self, store: LimitStore, spent_loader: SpentLoader, on_refusal: OnRefusal | None = None
    ) -> None:
        self._store = store
        self._spent_loader = spent_loader
        self._on_refusal = on_refusal or (lambda tenant, limit: None)

    async def _budget(self, tenant: Tenant) -> tuple[BudgetScope | None, datetime | None]:
        if tenant.budget_usd is None:
            return None, None
        now = datetime.now(UTC)
        start, end = budget_period(tenant.budget_period, now)
        budget = BudgetScope(
            f"budget:{tenant.id}:{start:%Y-%m-%d}", tenant.budget_usd, (end - now).total_seconds()
        )
        if not await self._store.budget_known(budget):
            await self._store.seed_budget(budget, await self._spent_loader(tenant.id, start, end))
        return budget, end

    async def admit(
        self, principal: Principal, tokens: int, cost: float, images: int = 0,
        share: float = 1.0,
    ) -> Ticket:  # fmt: skip
        """Admit within `share` of each limit (all of it, but for a batch's line)."""
        budget, budget_end = await self._budget(principal.tenant)
        scopes = _scopes(principal, share)
        result = await self._store.admit(scopes, budget, tokens, cost, time.time(), images)
        if isinstance(result, Denied):
            self._on_refusal(principal.tenant.id, result.limit)
            raise _refusal(result, principal, budget_end)
        return result

    async def admit_tool(self, principal: Principal) -> Ticket:
        """Admit a shared tool call within its tenant's `tool_rpm`, its only limit (a tool
        call costs no tokens and no money); settle its ticket when it ends."""
        tenant = principal.tenant
        scopes = (Scope(f"tools:{tenant.id}", rpm=tenant.tool_rpm),) if tenant.tool_rpm else ()
        result = await self._store.admit(scopes, None, 0, 0.0, time.time())
        if isinstance(result, Denied):
            self._on_refusal(tenant.id, "tool_rpm")
            raise _refusal(dataclasses.replace(result, limit="tool_rpm"), principal, None)
        return result

    async def extend(self, principal: Principal, ticket: Ticket, tokens: int, cost: float) -> None:
        denied = await self._store.extend(ticket, tokens, cost, time.time())
        if denied is not None:
            self._on_refusal(principal.tenant.id, denied.limit)
            end = budget_period(principal.tenant.budget_period, datetime.now(UTC))[1]
            raise _refusal(denied, principal, end)

    async def settle(self, ticket: Ticket, tokens: int, cost: float) -> None:
        await self._store.settle(ticket, tokens, cost)

    async def load(self, tenant: Tenant) -> TenantLoad:
        now = time.time()
        usage = await self._store.usage(f"tenant:{tenant.id}", now)
        budget, budget_end = await self._budget(tenant)
        now_budget = None
        if budget is not None and budget_end is not None:
            spending = await self._store.budget_usage(budget)
            now_budget = BudgetNow(
                limit_usd=budget.limit_usd, spent_usd=spending.spent_usd,
                reserved_usd=spending.reserved_usd, resets_at=budget_end,
            )  # fmt: skip
        return TenantLoad(
            tenant_id=tenant.id, running=usage.running, requests_last_minute=usage.requests,
            tokens_last_minute=usage.tokens, images_last_minute=usage.images, budget=now_budget,
        )  # fmt: skip
