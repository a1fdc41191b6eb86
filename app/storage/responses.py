"""Responses kept for /v1/responses, per tenant: another tenant's id is not found, like one
that never existed or was deleted.

A response is written when it ends (completed, incomplete or failed), with the whole
conversation it answered. A background one is written when it is accepted, live (queued, then
in progress), and then changed once: to how it ended, or cancelled, whichever comes first;
while live, the replica answering it shows so (`alive`). The row's status is the response's.

A new response is written by group commit, with its request's ledger row as a rule
(storage/group_commit.py). Writes outlast the request's cancellation, so a client that leaves
as its stream ends does not lose the response it was shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from app.storage.group_commit import GroupCommit
from app.storage.tables import ResponseRow

LIVE = ("queued", "in_progress")
T = TypeVar("T")


@dataclass(frozen=True)
class StoredResponse:
    body: dict[str, Any]  # the response object
    items: list[dict[str, Any]]  # the conversation it answered, oldest first
    alive_at: datetime | None  # when its replica last showed it was working on it (if live)

    @property
    def live(self) -> bool:
        return self.body["status"] in LIVE


def _now() -> datetime:
    return datetime.now(UTC)


class ResponseStore:
    def __init__(self, engine: Engine, writes: GroupCommit) -> None:
        self._engine = engine
        self._writes = writes

    def _get(self, tenant_id: str, response_id: str) -> StoredResponse | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(ResponseRow)
                .where(ResponseRow.id == response_id)
                .where(ResponseRow.tenant_id == tenant_id)
            )
            if row is None:
                return None
            return StoredResponse({**row.body, "status": row.status}, row.items, row.alive_at)

    def _end(
        self, tenant_id: str, response_id: str, ended: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> StoredResponse | None:
        """A live response changed once, to `ended(body)`; one that ended already stays as it
        ended (whoever ended it first wins). None if there is no such response."""
        stored = self._get(tenant_id, response_id)
        if stored is None or not stored.live:
            return stored
        body = ended(stored.body)
        with Session(self._engine) as session, session.begin():
            changed = session.execute(
                update(ResponseRow)
                .where(ResponseRow.id == response_id, ResponseRow.status.in_(LIVE))
                .values(body=body, status=body["status"], alive_at=None)
            )
        if changed.rowcount:  # type: ignore[attr-defined]
            return StoredResponse(body, stored.items, None)
        return self._get(tenant_id, response_id)

    def _alive(self, response_id: str) -> str | None:
        with Session(self._engine) as session, session.begin():
            changed = session.execute(
                update(ResponseRow)
                .where(ResponseRow.id == response_id, ResponseRow.status.in_(LIVE))
                .values(alive_at=_now(), status="in_progress")
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                return "in_progress"
            return session.scalar(select(ResponseRow.status).where(ResponseRow.id == response_id))

    def _delete(self, tenant_id: str, response_id: str) -> bool:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(ResponseRow)
                .where(ResponseRow.id == response_id)
                .where(ResponseRow.tenant_id == tenant_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save(self, tenant_id: str, body: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Store a new response, by group commit: with its request's ledger row, as a rule."""
        now = _now()
        row = {"id": body["id"], "tenant_id": tenant_id, "body": body, "items": items,
               "created_at": now, "status": body["status"],
               "alive_at": now if body["status"] in LIVE else None}  # fmt: skip
        await self._writes.insert(ResponseRow, row)

    async def end(
        self, tenant_id: str, response_id: str, ended: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> StoredResponse | None:
        return await _shielded(self._end, tenant_id, response_id, ended)

    async def alive(self, response_id: str) -> str | None:
        """Note that a live response is being answered (in progress); its status, which is
        not live once it ended or was cancelled (by any replica), None once it was deleted."""
        return await anyio.to_thread.run_sync(self._alive, response_id)

    async def get(self, tenant_id: str, response_id: str) -> StoredResponse | None:
        return await anyio.to_thread.run_sync(self._get, tenant_id, response_id)

    async def delete(self, tenant_id: str, response_id: str) -> bool:
        return await anyio.to_thread.run_sync(self._delete, tenant_id, response_id)


async def _shielded(work: Callable[..., T], *args: Any) -> T:
    return await asyncio.shield(asyncio.get_running_loop().run_in_executor(None, work, *args))
