"""Responses kept for /v1/responses, per tenant: another tenant's id is not found, like one
that never existed or was deleted.

A response is written once, when it ends (completed, incomplete or failed), with the whole
conversation it answered. The write is shielded from the request's cancellation, so a client
that leaves as its stream ends does not lose the response it was shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.storage.tables import ResponseRow


@dataclass(frozen=True)
class StoredResponse:
    body: dict[str, Any]  # the response object
    items: list[dict[str, Any]]  # the conversation it answered, oldest first


class ResponseStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _save(self, tenant_id: str, body: dict[str, Any], items: list[dict[str, Any]]) -> None:
        row = ResponseRow(id=body["id"], tenant_id=tenant_id, body=body, items=items,
                          created_at=datetime.now(UTC))  # fmt: skip
        with Session(self._engine) as session, session.begin():
            session.add(row)

    def _get(self, tenant_id: str, response_id: str) -> StoredResponse | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(ResponseRow)
                .where(ResponseRow.id == response_id)
                .where(ResponseRow.tenant_id == tenant_id)
            )
            return None if row is None else StoredResponse(row.body, row.items)

    def _delete(self, tenant_id: str, response_id: str) -> bool:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(ResponseRow)
                .where(ResponseRow.id == response_id)
                .where(ResponseRow.tenant_id == tenant_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save(self, tenant_id: str, body: dict[str, Any], items: list[dict[str, Any]]) -> None:
        write = asyncio.get_running_loop().run_in_executor(None, self._save, tenant_id, body, items)
        await asyncio.shield(write)

    async def get(self, tenant_id: str, response_id: str) -> StoredResponse | None:
        return await anyio.to_thread.run_sync(self._get, tenant_id, response_id)

    async def delete(self, tenant_id: str, response_id: str) -> bool:
        return await anyio.to_thread.run_sync(self._delete, tenant_id, response_id)
