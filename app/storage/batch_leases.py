"""A batch's lines as the replicas work on them: claimed in small leases, renewed while they
run, settled once by the holder of the current lease (counted in the batch in the same
transaction), or given back; a line whose replicas died on it MAX_CLAIMS times fails. The
batches themselves are batches.py's."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from app.storage.tables import BatchLineRow, BatchRow

#: Statuses of a batch whose lines may still be claimed or settled.
RUNNING = ("in_progress", "cancelling")
#: Claims of a line whose replica died each time (a line that kills it?) before it fails.
MAX_CLAIMS = 5


@dataclass(frozen=True)
class ClaimedLine:
    """A line leased to this replica, with what running it needs."""

    batch_id: str
    line: int
    custom_id: str
    body: dict[str, Any]
    lease: str
    tenant_id: str
    key_id: str
    endpoint: str


def _claimable(now: float) -> Any:
    return or_(
        and_(BatchLineRow.state == "pending", BatchLineRow.not_before <= now),
        and_(BatchLineRow.state == "leased", BatchLineRow.lease_until < now),
    )


def _lapsed_too_often(now: float) -> Any:
    """Leased lines of running batches (by the index of their batch and state, not a scan of
    every batch's lines ever kept) whose leases lapsed MAX_CLAIMS times."""
    running = select(BatchRow.id).where(BatchRow.status.in_(RUNNING))
    return and_(BatchLineRow.batch_id.in_(running), BatchLineRow.state == "leased",
                BatchLineRow.lease_until < now, BatchLineRow.claims >= MAX_CLAIMS)  # fmt: skip


class BatchLeases:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _claim(self, now: float, lease_seconds: float, limit: int) -> list[ClaimedLine]:
        """Lease up to `limit` lines of one running batch, from the batch claimed from least
        recently that has any."""
        lease = secrets.token_hex(8)
        with Session(self._engine) as session, session.begin():
            batches = session.execute(
                select(BatchRow.id, BatchRow.tenant_id, BatchRow.key_id, BatchRow.endpoint)
                .where(BatchRow.status == "in_progress", BatchRow.ending == "completed")
                .order_by(BatchRow.turn_at).limit(8)
            ).all()  # fmt: skip
            for batch_id, tenant_id, key_id, endpoint in batches:
                candidates = select(BatchLineRow.line).where(
                    BatchLineRow.batch_id == batch_id, _claimable(now),
                    BatchLineRow.claims < MAX_CLAIMS,
                ).order_by(BatchLineRow.line).limit(limit)  # fmt: skip
                numbers = list(session.scalars(candidates))
                if not numbers:
                    continue
                session.execute(
                    update(BatchLineRow)
                    .where(BatchLineRow.batch_id == batch_id, BatchLineRow.line.in_(numbers),
                           _claimable(now), BatchLineRow.claims < MAX_CLAIMS)
                    .values(state="leased", lease=lease, lease_until=now + lease_seconds,
                            claims=BatchLineRow.claims + 1)
                )  # fmt: skip
                session.execute(update(BatchRow).where(BatchRow.id == batch_id)
                                .values(turn_at=now))  # fmt: skip
                claimed = session.execute(
                    select(BatchLineRow.line, BatchLineRow.custom_id, BatchLineRow.body)
                    .where(BatchLineRow.batch_id == batch_id, BatchLineRow.lease == lease)
                    .order_by(BatchLineRow.line)
                ).all()  # fmt: skip
                if claimed:
                    return [ClaimedLine(batch_id, line, custom_id, body, lease, tenant_id,
                                        key_id, endpoint)
                            for line, custom_id, body in claimed]  # fmt: skip
        return []

    def _abandon(self, now: float, result: dict[str, Any]) -> int:
        """Fail the lines whose replicas died on them MAX_CLAIMS times: each is settled as
        failed with `result`, counted in its batch."""
        with Session(self._engine) as session, session.begin():
            lines = session.execute(
                select(BatchLineRow.batch_id, BatchLineRow.line, BatchLineRow.lease)
                .where(_lapsed_too_often(now))
            ).all()  # fmt: skip
            for batch_id, line, lease in lines:
                self._settle_in(session, batch_id, line, lease, "failed", result)
        return len(lines)

    def _renew(self, leases: Sequence[str], until: float) -> None:
        if not leases:
            return
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(BatchLineRow)
                .where(BatchLineRow.lease.in_(leases), BatchLineRow.state == "leased")
                .values(lease_until=until)
            )  # fmt: skip

    @staticmethod
    def _settle_in(session: Session, batch_id: str, line: int, lease: str | None, state: str,
                   result: dict[str, Any]) -> bool:  # fmt: skip
        changed = session.execute(
            update(BatchLineRow)
            .where(
                BatchLineRow.batch_id == batch_id,
                BatchLineRow.line == line,
                BatchLineRow.lease == lease,
                BatchLineRow.state == "leased",
            )
            .values(state=state, result=result, lease_until=None)
        ).rowcount  # type: ignore[attr-defined]
        if changed:
            counter = BatchRow.completed if state == "done" else BatchRow.failed
            session.execute(update(BatchRow).where(BatchRow.id == batch_id)
                            .values({counter: counter + 1}))  # fmt: skip
        return bool(changed)

    def _settle(self, claimed: ClaimedLine, state: str, result: dict[str, Any]) -> bool:
        """The line's end, counted in its batch; False if its lease lapsed and another replica
        holds it now (that one settles it)."""
        with Session(self._engine) as session, session.begin():
            return self._settle_in(session, claimed.batch_id, claimed.line, claimed.lease,
                                   state, result)  # fmt: skip

    def _release(self, claimed: ClaimedLine, not_before: float) -> None:
        """Give a line back, to be claimed again from `not_before` on (a limit refused it for
        now): the claim does not count."""
        with Session(self._engine) as session, session.begin():
            session.execute(
                update(BatchLineRow)
                .where(BatchLineRow.batch_id == claimed.batch_id,
                       BatchLineRow.line == claimed.line, BatchLineRow.lease == claimed.lease,
                       BatchLineRow.state == "leased")
                .values(state="pending", lease=None, lease_until=None, not_before=not_before,
                        claims=BatchLineRow.claims - 1)
            )  # fmt: skip

    async def claim(self, now: float, lease_seconds: float, limit: int) -> list[ClaimedLine]:
        return await anyio.to_thread.run_sync(self._claim, now, lease_seconds, limit)

    async def abandon(self, now: float, result: dict[str, Any]) -> int:
        return await anyio.to_thread.run_sync(self._abandon, now, result)

    async def renew(self, leases: Sequence[str], until: float) -> None:
        await anyio.to_thread.run_sync(self._renew, leases, until)

    async def settle(self, claimed: ClaimedLine, state: str, result: dict[str, Any]) -> bool:
        return await anyio.to_thread.run_sync(self._settle, claimed, state, result)

    async def release(self, claimed: ClaimedLine, not_before: float) -> None:
        await anyio.to_thread.run_sync(self._release, claimed, not_before)
