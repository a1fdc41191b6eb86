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

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.storage.files import StoredFile, file_row
from app.storage.tables import BatchLineRow, BatchRow, FileRow

OPEN = ("pending", "leased")
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


@dataclass(frozen=True)
class SettledLine:
    line: int
    custom_id: str
    state: str  # done | failed | skipped
    result: dict[str, Any]


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


class BatchStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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

    # --- the replicas' work ----------------------------------------------------------------

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
