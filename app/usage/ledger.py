"""The usage ledger in the database: one row per admitted request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

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
    latency_ms: float
    ttft_ms: float | None
    status: int
    interrupted: bool
    created_at: datetime


@dataclass(frozen=True)
class UsageFilter:
    tenant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    route: str | None = None
    model: str | None = None


def _settle(stored: asyncio.Future[None], error: Exception | None) -> None:
    if stored.done():  # its request was cancelled meanwhile; the row is stored all the same
        return
    if error is None:
        stored.set_result(None)
    else:
        stored.set_exception(error)


class UsageLedger:
    """The ledger, written by group commit: rows that arrive while a write is under way go
    together in the next transaction, and each caller waits until its own row is stored."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        """Plain INSERTs in one transaction (the ORM's unit of work costs more than the write)."""
        with self._engine.begin() as connection:
            connection.execute(insert(UsageRow), rows)

    async def _in_thread(self, rows: list[dict[str, Any]]) -> None:
        """The INSERTs in the loop's executor: plain asyncio, the cheapest hop to a thread."""
        await asyncio.get_running_loop().run_in_executor(None, self._insert, rows)

    async def arecord(self, entry: LedgerEntry) -> None:
        """Store the row; returns once it is committed."""
        stored = asyncio.get_running_loop().create_future()
        self._waiting.append((vars(entry), stored))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        await stored

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._in_thread([values for values, _ in batch])
            except Exception:
                for values, stored in batch:
                    await self._write_one(values, stored)
            else:
                for _, stored in batch:
                    stored.set_result(None)

    async def _write_one(self, values: dict[str, Any], stored: asyncio.Future[None]) -> None:
        try:
            await self._in_thread([values])
        except Exception as exc:
            stored.set_exception(exc)
        else:
            stored.set_result(None)

    def query(self, where: UsageFilter, limit: int = 10_000) -> list[dict[str, Any]]:
        query = select(UsageRow).order_by(UsageRow.id).limit(limit)
        for column, value in (
            (UsageRow.tenant_id, where.tenant_id),
            (UsageRow.route, where.route),
            (UsageRow.model, where.model),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(UsageRow.created_at >= where.since)
        if where.until is not None:
            query = query.where(UsageRow.created_at < where.until)
        with Session(self._engine) as session:
            return [row.as_dict() for row in session.scalars(query)]

    def spent(self, tenant_id: str, start: datetime, end: datetime) -> float:
        with Session(self._engine) as session:
            total = session.scalar(
                select(func.coalesce(func.sum(UsageRow.cost_usd), 0.0))
                .where(UsageRow.tenant_id == tenant_id)
                .where(UsageRow.created_at >= start)
                .where(UsageRow.created_at < end)
            )
        return float(total or 0.0)

    async def aquery(self, where: UsageFilter) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.query, where)

    async def aspent(self, tenant_id: str, start: datetime, end: datetime) -> float:
        return await anyio.to_thread.run_sync(self.spent, tenant_id, start, end)
