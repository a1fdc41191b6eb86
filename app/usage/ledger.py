"""The usage ledger in the database: one row per admitted request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from app.storage.tables import UsageRow


@dataclass(frozen=True)
class UsageFilter:
    tenant_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    route: str | None = None
    model: str | None = None


class UsageLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, row: UsageRow) -> None:
        """Store the row (a plain INSERT: the ORM's unit of work costs more than the write)."""
        values = {key: value for key, value in row.as_dict().items() if key != "id"}
        with self._engine.begin() as connection:
            connection.execute(insert(UsageRow), [values])

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

    async def arecord(self, row: UsageRow) -> None:
        await anyio.to_thread.run_sync(self.record, row)

    async def aquery(self, where: UsageFilter) -> list[dict[str, Any]]:
        return await anyio.to_thread.run_sync(self.query, where)

    async def aspent(self, tenant_id: str, start: datetime, end: datetime) -> float:
        return await anyio.to_thread.run_sync(self.spent, tenant_id, start, end)
