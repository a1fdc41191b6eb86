"""Rows written by group commit: a request's rows that must be stored before it is answered
(its ledger row, the response it keeps) cost one transaction and one thread hop between them,
and between every request's that arrive together.

Rows that arrive while a write is under way go together in the next transaction, written by a
thread of the writer's own (no tenant's work in the loop's shared executor can hold a row
back), and each caller waits until its own row is committed. A batch that fails is written
again a row at a time, so that a bad row fails its own caller only. A caller that is cancelled
while it waits does not take its row back: it is stored all the same.

On SQLite the transaction is written in the loop itself, on a connection of the writer's own
that never waits for a lock: a commit to the WAL (synchronous=NORMAL, so no fsync, yet kept on
kill -9) costs less than the hop to a thread and back. When another writer holds the lock
(another replica, the CLI), that batch goes to the thread, which waits its turn. That
connection does not checkpoint the WAL in the loop; the thread does, every `CHECKPOINT_EVERY`
of its commits.

A table that names a column `written_once_by` keeps the first row for each of its values and
skips any later one (the ledger: one row per request id).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Connection, Engine, Insert, insert
from sqlalchemy.exc import OperationalError

from app.storage.database import Base

Row = tuple[type[Base], dict[str, Any]]
#: The loop's commits on SQLite between two checkpoints of the WAL (by the writer's thread).
CHECKPOINT_EVERY = 1000


def _settle(stored: asyncio.Future[None], error: Exception | None) -> None:
    if stored.done():  # its caller was cancelled meanwhile; the row is stored all the same
        return
    if error is None:
        stored.set_result(None)
    else:
        stored.set_exception(error)


class GroupCommit:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._waiting: list[tuple[Row, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None  # started on first use
        self._statements: dict[type[Base], Insert] = {}
        self._in_loop = engine.dialect.name == "sqlite"
        self._loop_connection: Connection | None = None  # SQLite's, opened on first use
        self._loop_commits = 0

    def close(self) -> None:
        """End the writer's thread, once the rows under way are written (at shutdown), and
        close the loop's connection; an app started again over the same services opens them
        again."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)
        connection, self._loop_connection = self._loop_connection, None
        if connection is not None:
            connection.invalidate()  # not back to the pool: it would not wait for locks
            connection.close()

    async def insert(self, table: type[Base], values: dict[str, Any]) -> None:
        """Store the row; returns once it is committed."""
        stored = asyncio.get_running_loop().create_future()
        self._waiting.append(((table, values), stored))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        await stored

    def _insert(self, rows: list[Row]) -> None:
        """Plain INSERTs in one transaction (the ORM's unit of work costs more than the write),
        one statement per table."""
        with self._engine.begin() as connection:
            self._execute(connection, rows)

    def _execute(self, connection: Connection, rows: list[Row]) -> None:
        by_table: dict[type[Base], list[dict[str, Any]]] = {}
        for table, values in rows:
            by_table.setdefault(table, []).append(values)
        for table, values_of in by_table.items():
            connection.execute(self._statement(table), values_of)

    def _inserted_in_loop(self, rows: list[Row]) -> bool:
        """The rows committed in the loop (SQLite), unless another writer holds the lock."""
        connection = self._loop_connection
        if connection is None:
            connection = self._loop_connection = self._engine.connect()
            connection.exec_driver_sql("PRAGMA busy_timeout=0")  # never waits in the loop
            connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            connection.commit()
        try:
            with connection.begin():
                self._execute(connection, rows)
        except OperationalError as exc:
            if "locked" not in str(exc.orig) and "busy" not in str(exc.orig):
                raise
            return False
        self._loop_commits += 1
        if self._loop_commits % CHECKPOINT_EVERY == 0:
            self._run_in_thread(self._checkpoint)
        return True

    def _checkpoint(self) -> None:
        """Checkpoint the WAL and restart it (waiting for the lock: meanwhile the loop's
        commits go to this thread), so that it is written again from its start."""
        with self._engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(RESTART)")

    def _statement(self, table: type[Base]) -> Insert:
        """The table's INSERT, built once (a statement's construction costs more than its
        cached compilation)."""
        statement = self._statements.get(table)
        if statement is None:
            once_by = getattr(table, "written_once_by", None)
            if once_by is None:
                statement = insert(table)
            else:  # the dialect's own INSERT, imported with it (PostgreSQL's costs a cold start)
                if self._engine.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert as dialect_insert
                else:
                    from sqlalchemy.dialects.sqlite import insert as dialect_insert
                statement = dialect_insert(table).on_conflict_do_nothing(index_elements=[once_by])
            self._statements[table] = statement
        return statement

    def _run_in_thread(self, work: Any, *args: Any) -> asyncio.Future[None]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-commit")
        return asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    async def _write_waiting(self) -> None:
        await asyncio.sleep(0)  # the rows its request writes beside this one join it
        while self._waiting:
            batch, self._waiting = self._waiting, []
            rows = [row for row, _ in batch]
            try:
                if not (self._in_loop and self._inserted_in_loop(rows)):
                    await self._run_in_thread(self._insert, rows)
            except Exception:
                for row, stored in batch:
                    await self._write_one(row, stored)
            else:
                for _, stored in batch:
                    _settle(stored, None)

    async def _write_one(self, row: Row, stored: asyncio.Future[None]) -> None:
        try:
            await self._run_in_thread(self._insert, [row])
        except Exception as exc:
            _settle(stored, exc)
        else:
            _settle(stored, None)
