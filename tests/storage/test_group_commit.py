"""Group commit on SQLite, in the loop (app/storage/group_commit.py): a row is committed
without a thread when the database is free, the loop never waits for another writer's lock,
and the WAL is checkpointed all the same."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from sqlalchemy import func, select

from app.storage import group_commit
from app.storage.database import create_database_engine, migrate
from app.storage.group_commit import GroupCommit
from app.storage.tables import UsageRow
from tests.usage.test_ledger import _entry, _ledger_threads


def _writes(tmp_path: Path) -> tuple[GroupCommit, object]:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrate(engine)
    return GroupCommit(engine), engine


def _count(engine: object) -> int:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        return connection.execute(select(func.count()).select_from(UsageRow)).scalar()


async def test_a_row_is_committed_in_the_loop_when_the_database_is_free(tmp_path):
    writes, engine = _writes(tmp_path)
    before = _ledger_threads()
    await writes.insert(UsageRow, vars(_entry("one")))
    assert _count(engine) == 1, "committed before insert returned"
    assert not _ledger_threads() - before, "no thread was needed"
    writes.close()


async def test_the_loop_goes_on_while_another_writer_holds_the_lock(tmp_path):
    writes, engine = _writes(tmp_path)
    holder = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another replica, or the CLI, writing
    started = time.perf_counter()
    waiting = asyncio.ensure_future(writes.insert(UsageRow, vars(_entry("one"))))
    await asyncio.sleep(0.02)
    assert time.perf_counter() - started < 1, "the loop did not wait for the lock"
    assert not waiting.done(), "the row waits its turn (in the writer's thread)"
    holder.execute("COMMIT")
    holder.close()
    await asyncio.wait_for(waiting, 5)
    assert _count(engine) == 1
    writes.close()


async def test_the_wal_is_checkpointed_though_the_loops_commits_never_do_it(tmp_path, monkeypatch):
    monkeypatch.setattr(group_commit, "CHECKPOINT_EVERY", 20)
    writes, engine = _writes(tmp_path)
    for index in range(400):
        await writes.insert(UsageRow, vars(_entry(f"r{index}")))
    writes.close()
    wal = (tmp_path / "ledger.db-wal").stat().st_size
    assert _count(engine) == 400
    # Each commit appends its pages (a row's, its indexes'): 400, never checkpointed, are 7 MB;
    # checkpointed every 20, the WAL is reused from its start (its file does not shrink).
    assert wal < 2_000_000, f"the WAL grew to {wal} bytes"
