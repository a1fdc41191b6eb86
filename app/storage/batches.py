"""Batch jobs in the shared database: a batch's row, and a row per line that replicas claim in
small leases, so that several replicas work on one batch and a dead one's lines are taken up
again once its leases lapse.

    pending ──claim──> leased ──settle──> done | failed       (by the lease's holder only)
       │                 └── lapsed: claimable again, up to MAX_CLAIMS times, then failed
       └──stop (cancelled, expired, over budget)──> skipped

A line is settled once: by the holder of its current lease, in the transaction that counts it
in its batch. Its ledger row is idempotent by its request id (one per line), so a line taken
up again after its replica died is answered and billed once. A batch whose lines are all
settled is finalized by one replica (a lease on the batch): its results are written as files
in the transaction that ends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.storage.batch_leases import RUNNING, BatchLeases
from app.storage.files import StoredFile, file_row
from app.storage.tables import BatchLineRow, BatchRow, FileRow

OPEN = ("pending", "leased")


@dataclass(frozen=True)
class SettledLine:
    line: int
    custom_id: str
    state: str  # done | failed | skipped
    result: dict[str, Any]


class BatchStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        #: The lines as the replicas work on them (batch_leases.py).
        self.leases = BatchLeases(engine)

    # --- a tenant's batches ----------------------------------------------------------------

    def _create(self, row: dict[str, Any], lines: Sequence[tuple[str, dict[str, Any]]]) -> None:
        with Session(self._engine) as session, session.begin():
            session.execute(insert(BatchRow), [row])
            if lines:
                session.execute(insert(BatchLineRow), [
                    {"batch_id": row["id"], "line": number, "custom_id": custom_id,
                     "body": body, "state": "pending", "not_before": 0.0, "claims": 0}
                    for number, (custom_id, body) in enumerate(lines, 1)
                ])  # fmt: skip

    def _get(self, tenant_id: str | None, batch_id: str) -> BatchRow | None:
        with Session(self._engine, expire_on_commit=False) as session:
            query = select(BatchRow).where(BatchRow.id == batch_id)
            if tenant_id is not None:
                query = query.where(BatchRow.tenant_id == tenant_id)
            return session.scalar(query)

    def _page(self, tenant_id: str | None, limit: int, after: str | None) -> list[BatchRow]:
        """Newest first: ids sort as they were made (storage/ids.py)."""
        query = select(BatchRow)
        if tenant_id is not None:
            query = query.where(BatchRow.tenant_id == tenant_id)
        if after is not None:
            query = query.where(BatchRow.id < after)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.scalars(query.order_by(BatchRow.id.desc()).limit(limit)))

    def _cancel(
        self, tenant_id: str | None, batch_id: str, now: float, result: dict[str, Any]
    ) -> BatchRow | None:
        """Stop a running batch from taking lines (its pending ones are skipped with `result`);
        the lines in flight end as they do, then the batch is cancelled. Any tenant's, for
        None (an admin's)."""
        cancelling = update(BatchRow).where(BatchRow.id == batch_id,
                                            BatchRow.status == "in_progress")  # fmt: skip
        if tenant_id is not None:
            cancelling = cancelling.where(BatchRow.tenant_id == tenant_id)
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            changed = session.execute(
                cancelling.values(status="cancelling", ending="cancelled", cancelling_at=int(now))
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                self._skip_pending(session, batch_id, result)
        return self._get(tenant_id, batch_id)

    def _stop(self, batch_id: str, ending: str, errors: list[dict[str, Any]] | None,
              result: dict[str, Any]) -> bool:  # fmt: skip
        """End a running batch early as `ending` (expired, or failed over budget): its pending
        lines are skipped with `result`. False if it was stopped already."""
        with Session(self._engine) as session, session.begin():
            changed = session.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id, BatchRow.status == "in_progress",
                       BatchRow.ending == "completed")
                .values(ending=ending, errors=errors)
            )  # fmt: skip
            if not changed.rowcount:  # type: ignore[attr-defined]
                return False
            self._skip_pending(session, batch_id, result)
            return True

    @staticmethod
    def _skip_pending(session: Session, batch_id: str, result: dict[str, Any]) -> None:
        skipped = session.execute(
            update(BatchLineRow)
            .where(BatchLineRow.batch_id == batch_id, BatchLineRow.state == "pending")
            .values(state="skipped", result=result)
        ).rowcount  # type: ignore[attr-defined]
        session.execute(update(BatchRow).where(BatchRow.id == batch_id)
                        .values(failed=BatchRow.failed + skipped))  # fmt: skip

    def _overdue(self, now: float) -> list[str]:
        """Running batches past their window, not stopped yet."""
        with Session(self._engine) as session:
            return list(session.scalars(
                select(BatchRow.id).where(BatchRow.status == "in_progress",
                                          BatchRow.ending == "completed",
                                          BatchRow.expires_at <= now)
            ))  # fmt: skip

    def _finishable(self, now: float) -> list[str]:
        """Batches whose lines are all settled, not being finalized by a live replica."""
        open_lines = exists().where(BatchLineRow.batch_id == BatchRow.id,
                                    BatchLineRow.state.in_(OPEN))  # fmt: skip
        with Session(self._engine) as session:
            return list(session.scalars(
                select(BatchRow.id).where(
                    or_(and_(BatchRow.status.in_(RUNNING), ~open_lines),
                        and_(BatchRow.status == "finalizing", BatchRow.lease_until < now))
                )
            ))  # fmt: skip

    def _begin_finalizing(self, batch_id: str, now: float, lease_seconds: float) -> bool:
        with Session(self._engine) as session, session.begin():
            changed = session.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id,
                       or_(BatchRow.status.in_(RUNNING),
                           and_(BatchRow.status == "finalizing", BatchRow.lease_until < now)))
                .values(status="finalizing", finalizing_at=int(now),
                        lease_until=now + lease_seconds)
            )  # fmt: skip
            return bool(changed.rowcount)  # type: ignore[attr-defined]

    def _settled(self, batch_id: str) -> list[SettledLine]:
        with Session(self._engine) as session:
            rows = session.execute(
                select(BatchLineRow.line, BatchLineRow.custom_id, BatchLineRow.state,
                       BatchLineRow.result)
                .where(BatchLineRow.batch_id == batch_id).order_by(BatchLineRow.line)
            ).all()  # fmt: skip
        return [SettledLine(*row) for row in rows]

    def _finish(
        self, batch: BatchRow, now: float, files: Sequence[tuple[StoredFile, bytes]],
        output_file_id: str | None, error_file_id: str | None,
    ) -> bool:  # fmt: skip
        """End a batch being finalized as it was to end, its result files written with it."""
        with Session(self._engine) as session, session.begin():
            changed = session.execute(
                update(BatchRow)
                .where(BatchRow.id == batch.id, BatchRow.status == "finalizing")
                .values(
                    status=batch.ending,
                    ended_at=int(now),
                    lease_until=None,
                    output_file_id=output_file_id,
                    error_file_id=error_file_id,
                )
            ).rowcount  # type: ignore[attr-defined]
            if changed and files:
                session.execute(insert(FileRow), [file_row(batch.tenant_id, stored, content)
                                                  for stored, content in files])  # fmt: skip
            return bool(changed)

    def _depth(self) -> dict[str, int]:
        """Lines not yet settled, by tenant: every tenant with a batch running, even one whose
        lines are all settled (its batch not finalized yet), so its gauge shows it before it
        ends."""
        open_lines = (BatchLineRow.batch_id == BatchRow.id) & BatchLineRow.state.in_(OPEN)
        with Session(self._engine) as session:
            rows = session.execute(
                select(BatchRow.tenant_id, func.count(BatchLineRow.batch_id))
                .select_from(BatchRow)
                .outerjoin(BatchLineRow, open_lines)
                .where(BatchRow.status.in_(RUNNING))
                .group_by(BatchRow.tenant_id)
            ).all()  # fmt: skip
        return {tenant: count for tenant, count in rows}

    # --- awaitable forms -------------------------------------------------------------------

    async def create(
        self, row: dict[str, Any], lines: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        await anyio.to_thread.run_sync(self._create, row, lines)

    async def get(self, tenant_id: str | None, batch_id: str) -> BatchRow | None:
        """The batch, if it is `tenant_id`'s (any tenant's, for None: an admin's view)."""
        return await anyio.to_thread.run_sync(self._get, tenant_id, batch_id)

    async def page(self, tenant_id: str | None, limit: int, after: str | None) -> list[BatchRow]:
        """Up to `limit` batches, newest first, after the batch `after`."""
        return await anyio.to_thread.run_sync(self._page, tenant_id, limit, after)

    async def cancel(
        self, tenant_id: str | None, batch_id: str, now: float, result: dict[str, Any]
    ) -> BatchRow | None:
        return await anyio.to_thread.run_sync(self._cancel, tenant_id, batch_id, now, result)

    async def stop(self, batch_id: str, ending: str, errors: list[dict[str, Any]] | None,
                   result: dict[str, Any]) -> bool:  # fmt: skip
        return await anyio.to_thread.run_sync(self._stop, batch_id, ending, errors, result)

    async def overdue(self, now: float) -> list[str]:
        return await anyio.to_thread.run_sync(self._overdue, now)

    async def finishable(self, now: float) -> list[str]:
        return await anyio.to_thread.run_sync(self._finishable, now)

    async def begin_finalizing(self, batch_id: str, now: float, lease_seconds: float) -> bool:
        return await anyio.to_thread.run_sync(self._begin_finalizing, batch_id, now, lease_seconds)

    async def settled(self, batch_id: str) -> list[SettledLine]:
        return await anyio.to_thread.run_sync(self._settled, batch_id)

    async def finish(
        self, batch: BatchRow, now: float, files: Sequence[tuple[StoredFile, bytes]],
        output_file_id: str | None, error_file_id: str | None,
    ) -> bool:  # fmt: skip
        return await anyio.to_thread.run_sync(
            self._finish, batch, now, files, output_file_id, error_file_id
        )

    async def depth(self) -> dict[str, int]:
        return await anyio.to_thread.run_sync(self._depth)
