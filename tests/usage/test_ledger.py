"""The ledger's group commit: a row whose writer stopped waiting is stored all the same, and
never holds back the rows committed with it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from app.storage.database import create_database_engine, migrate
from app.storage.group_commit import GroupCommit
from app.storage.tables import UsageRow
from app.usage.ledger import LedgerEntry, UsageLedger


def _entry(request_id: str) -> LedgerEntry:
    return LedgerEntry(
        request_id=request_id, client_request_id=None, tenant_id="acme", key_id=None,
        route="v1/chat/completions", model="m", input_tokens=1, output_tokens=1,
        token_source="provider", cost_usd=0.0, images=0, deployments=None, continued=False,
        hedged=False, prompt=None, latency_ms=1.0, ttft_ms=None, status=200, interrupted=False,
        created_at=datetime.now(UTC),
    )  # fmt: skip


def _ledger(tmp_path: Path) -> tuple[UsageLedger, GroupCommit, object]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate(engine)
    writes = GroupCommit(engine)
    return UsageLedger(engine, writes), writes, engine


async def test_a_caller_that_stops_waiting_does_not_hold_back_the_rows_of_its_group(tmp_path):
    ledger, writes, engine = _ledger(tmp_path)
    # Another writer holds the database: the first group's transaction waits on it, so the
    # next rows gather into the group after it.
    holder = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    first = asyncio.ensure_future(ledger.arecord(_entry("first")))
    await asyncio.sleep(0.05)
    left = asyncio.ensure_future(ledger.arecord(_entry("left")))
    stays = asyncio.ensure_future(ledger.arecord(_entry("stays")))
    await asyncio.sleep(0)
    left.cancel()  # its request was cancelled while its row waited for the next group
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(asyncio.gather(first, stays), 5)
    with engine.connect() as connection:  # type: ignore[attr-defined]
        stored = connection.execute(select(func.count()).select_from(UsageRow)).scalar()
    assert stored == 3, "the cancelled caller's row is stored too"
    writes.close()


def _ledger_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("group-commit")}


async def test_closing_the_writes_ends_their_thread_and_a_restart_writes_again(tmp_path):
    ledger, writes, engine = _ledger(tmp_path)
    before = _ledger_threads()  # other tests' apps, never shut down, may hold theirs
    holder = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the loop does not wait for it: the thread does
    waiting = asyncio.ensure_future(ledger.arecord(_entry("one")))
    await asyncio.sleep(0.05)
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(waiting, 5)
    assert _ledger_threads() - before, "the writer's thread started when it was needed"
    writes.close()
    assert not _ledger_threads() - before, "and ended when the ledger closed"
    await ledger.arecord(_entry("two"))  # the app started again over the same services
    writes.close()
    with engine.connect() as connection:  # type: ignore[attr-defined]
        stored = connection.execute(select(func.count()).select_from(UsageRow)).scalar()
        waits = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert stored == 2
    assert waits == 5000, "the loop's connection, which never waits, is not back in the pool"


async def test_a_requests_row_is_written_once_even_when_it_is_recorded_again(database):
    """A batch's line taken up again after its replica died records its row again, with the
    same request id: the first row stays, the second is not stored (nor an error)."""
    engine = create_database_engine(database)
    migrate(engine)
    writes = GroupCommit(engine)
    ledger = UsageLedger(engine, writes)
    first = _entry("batch_x-1")
    again = _entry("batch_x-1")
    again.output_tokens = 99
    await ledger.arecord(first)
    await asyncio.gather(ledger.arecord(again), ledger.arecord(_entry("other")))
    await ledger.arecord(again)
    writes.close()
    with engine.connect() as connection:
        rows = connection.execute(select(UsageRow.request_id, UsageRow.output_tokens)).all()
    assert sorted(rows) == [("batch_x-1", 1), ("other", 1)]
