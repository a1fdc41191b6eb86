"""The usage ledger in the database: one row per admitted request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Engine, Select, case, func, select
from sqlalchemy.orm import Session

from app.storage.group_commit import GroupCommit
from app.storage.tables import UsageRow


@dataclass
class LedgerEntry:
    """One request's row as it is written (reading goes through the ORM's `UsageRow`)."""

    request_id: str  # the platform's own, unique
    client_request_id: str | None  # the client's X-Request-Id, as given
    tenant_id: str
    key_id: str | None
    route: str
    model: str | None
    input_tokens: int
    output_tokens: int
    token_source: str
    cost_usd: float
    images: int  # the images it made
    deployments: str | None  # those that did work, in order, comma-separated
    continued: bool  # an answer cut short on one deployment was continued on the next
    hedged: bool  # a second deployment was started beside a slow first one
    prompt: str | None  # a chain's prompt and version, `<name>@<version>`
    latency_ms: float
    ttft_ms: float | None
    status: int
    interrupted: bool
    created_at: datetime
    batch_id: str | None = None  # the batch the request is a line of
    custom_id: str | None = None  # that line's custom_id
    #: What the answer cache did (`hit`, `coalesced`, `partial`, `miss`, `bypass`; None: not
    #: cacheable), what it saved (the price of what it served), and who paid for that.
    cache: str | None = None
    saved_usd: float = 0.0
    paid_by: str | None = None
    #: What the guardrails did, by `direction.category.action`: counts, never values.
    guardrails: dict[str, int] | None = None
    via: str | None = None  # `mcp`: a tool call on /mcp, not an HTTP request to its route
    tool: str | None = None  # the shared tool it called (`server.tool`), on route `tools`


def _cache_columns() -> tuple[Any, ...]:
    """Cacheable rows, those the cache answered (hits, coalesced), misses, and money saved."""
    return (
        func.count(UsageRow.cache),
        func.coalesce(func.sum(case((UsageRow.cache == "hit", 1), else_=0)), 0),
        func.coalesce(func.sum(case((UsageRow.cache == "coalesced", 1), else_=0)), 0),
        func.coalesce(func.sum(case((UsageRow.cache == "miss", 1), else_=0)), 0),
        func.coalesce(func.sum(UsageRow.saved_usd), 0.0),
    )


def _cache_totals(
    cacheable: int, hits: int, coalesced: int, misses: int, saved: float
) -> dict[str, Any]:
    served = int(hits) + int(coalesced)
    return {
        "cache": {"cacheable": int(cacheable), "hits": int(hits), "coalesced": int(coalesced),
                  "misses": int(misses),
                  "hit_ratio": round(served / cacheable, 4) if cacheable else None,
                  "saved_usd": float(saved)}
    }  # fmt: skip


@dataclass(frozen=True)
class UsageFilter:
    tenant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    route: str | None = None
    model: str | None = None
    batch_id: str | None = None

    def applied(self, query: Select[Any]) -> Select[Any]:
        for column, value in (
            (UsageRow.tenant_id, self.tenant_id),
            (UsageRow.route, self.route),
            (UsageRow.model, self.model),
            (UsageRow.batch_id, self.batch_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(UsageRow.created_at >= self.since)
        if self.until is not None:
            query = query.where(UsageRow.created_at < self.until)
        return query


class UsageLedger:
    """The ledger: a request's row is written by group commit (storage/group_commit.py) with
    the rows of the requests, and of its own writes, that arrive with it; read a page at a
    time."""

    def __init__(self, engine: Engine, writes: GroupCommit) -> None:
        self._engine = engine
        self._writes = writes

    def arecord(self, entry: LedgerEntry) -> Awaitable[None]:
        """Store the row: awaited, it returns once the row is committed. A request's row is
        written once: another with its request id (a batch's line run again after its
        replica died) is not stored."""
        return self._writes.insert(UsageRow, vars(entry))

    def page(
        self, where: UsageFilter, limit: int, after: int | None = None
    ) -> list[dict[str, Any]]:
        """Up to `limit` rows, oldest first, after the row with id `after`."""
        query = where.applied(select(UsageRow)).order_by(UsageRow.id).limit(limit)
        if after is not None:
            query = query.where(UsageRow.id > after)
        with Session(self._engine) as session:
            return [row.as_dict() for row in session.scalars(query)]

    def pages(self, where: UsageFilter, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
        """Every matching row, a page at a time."""
        after = None
        while page := self.page(where, size, after):
            yield page
            after = page[-1]["id"]

    def totals(self, where: UsageFilter) -> dict[str, Any]:
        """Requests, tokens and cost of every matching row (not of a page), and what the
        guardrails did (`direction.category.action`: how many times)."""
        columns = (
            func.count(UsageRow.id),
            func.coalesce(func.sum(UsageRow.input_tokens), 0),
            func.coalesce(func.sum(UsageRow.output_tokens), 0),
            func.coalesce(func.sum(UsageRow.cost_usd), 0.0),
            func.coalesce(func.sum(UsageRow.images), 0),
            *_cache_columns(),
        )
        acted = where.applied(select(UsageRow.guardrails)).where(UsageRow.guardrails.is_not(None))
        guardrails: Counter[str] = Counter()
        with Session(self._engine) as session:
            requests, input_tokens, output_tokens, cost, images, *cache = session.execute(
                where.applied(select(*columns))
            ).one()
            for counts in session.scalars(acted):  # rows where guardrails acted: the few
                guardrails.update(counts)
        return {"requests": requests, "input_tokens": int(input_tokens),
                "output_tokens": int(output_tokens), "cost_usd": float(cost),
                "images": int(images), **_cache_totals(*cache),
                "guardrails": dict(sorted(guardrails.items()))}  # fmt: skip

    def totals_by_cache(self, where: UsageFilter) -> list[dict[str, Any]]:
        """Per tenant and model alias of every matching cacheable row: what the answer cache
        did (hits, coalesced, misses), its hit ratio, and the money it saved."""
        groups = (UsageRow.tenant_id, UsageRow.model)
        query = where.applied(select(*groups, *_cache_columns())).where(UsageRow.cache.is_not(None))
        query = query.group_by(*groups).order_by(*groups)
        with Session(self._engine) as session:
            rows = session.execute(query).all()
        return [{"tenant_id": tenant, "model": model, **_cache_totals(*cache)}
                for tenant, model, *cache in rows]  # fmt: skip

    def totals_by_prompt(self, where: UsageFilter) -> list[dict[str, Any]]:
        """Per prompt version of every matching row: requests, failures (4xx/5xx), tokens,
        cost and mean latency, to compare the versions of a trial."""
        columns = (
            UsageRow.prompt,
            func.count(UsageRow.id),
            func.coalesce(func.sum(case((UsageRow.status >= 400, 1), else_=0)), 0),
            func.coalesce(func.sum(UsageRow.input_tokens), 0),
            func.coalesce(func.sum(UsageRow.output_tokens), 0),
            func.coalesce(func.sum(UsageRow.cost_usd), 0.0),
            func.avg(UsageRow.latency_ms),
        )
        query = where.applied(select(*columns)).group_by(UsageRow.prompt).order_by(UsageRow.prompt)
        with Session(self._engine) as session:
            groups = session.execute(query.where(UsageRow.prompt.is_not(None))).all()
        return [
            {"prompt": prompt, "requests": requests, "failed": int(failed),
             "input_tokens": int(input_tokens), "output_tokens": int(output_tokens),
             "cost_usd": float(cost), "mean_latency_ms": float(latency or 0.0)}
            for prompt, requests, failed, input_tokens, output_tokens, cost, latency in groups
        ]  # fmt: skip

    def spent(self, tenant_id: str, start: datetime, end: datetime) -> float:
        with Session(self._engine) as session:
            total = session.scalar(
                select(func.coalesce(func.sum(UsageRow.cost_usd), 0.0))
                .where(UsageRow.tenant_id == tenant_id)
                .where(UsageRow.created_at >= start)
                .where(UsageRow.created_at < end)
            )
        return float(total or 0.0)

    async def apage(
        self, where: UsageFilter, limit: int, after: int | None = None
    ) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.page, where, limit, after)

    async def atotals(self, where: UsageFilter) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(self.totals, where)

    async def atotals_by_cache(self, where: UsageFilter) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.totals_by_cache, where)

    async def atotals_by_prompt(self, where: UsageFilter) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.totals_by_prompt, where)

    async def aspent(self, tenant_id: str, start: datetime, end: datetime) -> float:
        return await anyio.to_thread.run_sync(self.spent, tenant_id, start, end)
