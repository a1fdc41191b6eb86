"""Batch lines in the shared database, on SQLite and PostgreSQL: claimed in leases, taken up
again once a lease lapses (its replica died), settled once by the lease's holder alone, and
failed after MAX_CLAIMS lapses; a batch is finalized by one replica, its files written with
its end."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from app.storage.batch_leases import MAX_CLAIMS
from app.storage.batches import BatchStore
from app.storage.database import create_database_engine, migrate
from app.storage.files import FileStore, StoredFile

DONE = {"response": {"status_code": 200}, "error": None}


@pytest.fixture
def engine(database: str) -> Engine:
    engine = create_database_engine(database)
    migrate(engine)
    return engine


async def a_batch(store: BatchStore, lines: int, batch_id: str = "batch_1") -> None:
    row: dict[str, Any] = {
        "id": batch_id, "tenant_id": "acme", "key_id": "k1", "endpoint": "/v1/embeddings",
        "input_file_id": "file-1", "completion_window": "24h", "status": "in_progress",
        "ending": "completed", "created_at": 0, "expires_at": 86400, "total": lines,
        "completed": 0, "failed": 0, "turn_at": 0.0,
    }  # fmt: skip
    await store.create(row, [(f"c{n}", {"input": str(n)}) for n in range(lines)])


async def test_a_lapsed_lease_is_taken_up_and_only_its_new_holder_settles_the_line(engine):
    store = BatchStore(engine)
    await a_batch(store, 3)
    first = await store.leases.claim(now=0.0, lease_seconds=10, limit=2)
    assert [line.line for line in first] == [1, 2]
    assert [line.line for line in await store.leases.claim(1.0, 10, 5)] == [3], "held lines wait"
    assert await store.leases.claim(5.0, 10, 5) == []
    again = await store.leases.claim(11.0, 10, 5)  # the first replica died: its leases lapsed
    assert [line.line for line in again] == [1, 2]
    assert not await store.leases.settle(first[0], "done", DONE), "the dead lease settles nothing"
    assert await store.leases.settle(again[0], "done", DONE)
    assert not await store.leases.settle(again[0], "done", DONE), "settled once"
    batch = await store.get("acme", "batch_1")
    assert batch is not None and (batch.completed, batch.failed) == (1, 0)


async def test_renewed_leases_are_not_taken_up(engine):
    store = BatchStore(engine)
    await a_batch(store, 1)
    [line] = await store.leases.claim(0.0, 10, 1)
    await store.leases.renew([line.lease], until=25.0)
    assert await store.leases.claim(20.0, 10, 1) == []
    assert len(await store.leases.claim(26.0, 10, 1)) == 1


async def test_a_line_whose_replicas_keep_dying_fails_after_max_claims(engine):
    store = BatchStore(engine)
    await a_batch(store, 1)
    now = 0.0
    for _ in range(MAX_CLAIMS):
        assert len(await store.leases.claim(now, 1, 1)) == 1
        now += 2
    assert await store.leases.claim(now, 1, 1) == []
    assert await store.leases.abandon(now, {"response": None, "error": {"code": "abandoned"}}) == 1
    assert await store.finishable(now) == ["batch_1"]
    [settled] = await store.settled("batch_1")
    assert (settled.state, settled.result["error"]["code"]) == ("failed", "abandoned")


async def test_a_line_given_back_is_claimed_again_after_its_delay_without_counting(engine):
    store = BatchStore(engine)
    await a_batch(store, 1)
    now = 0.0
    for _ in range(MAX_CLAIMS + 2):  # refused by a limit each time: never abandoned
        [line] = await store.leases.claim(now, 10, 1)
        await store.leases.release(line, not_before=now + 5)
        assert await store.leases.claim(now + 4, 10, 1) == []
        now += 5
    assert len(await store.leases.claim(now, 10, 1)) == 1


async def test_one_replica_finalizes_a_batch_and_its_files_are_written_with_its_end(engine):
    store, files = BatchStore(engine), FileStore(engine)
    await a_batch(store, 1)
    [line] = await store.leases.claim(0.0, 10, 1)
    await store.leases.settle(line, "done", DONE)
    assert await store.finishable(1.0) == ["batch_1"]
    assert await store.begin_finalizing("batch_1", 1.0, 10)
    assert not await store.begin_finalizing("batch_1", 2.0, 10), "another replica is on it"
    assert await store.finishable(2.0) == []
    assert await store.finishable(12.0) == ["batch_1"], "its finalizer died: taken up again"
    assert await store.begin_finalizing("batch_1", 12.0, 10)
    batch = await store.get(None, "batch_1")
    assert batch is not None
    output = StoredFile("file-out", "out.jsonl", "batch_output", 3, 12)
    assert await store.finish(batch, 13.0, [(output, b"{}\n")], "file-out", None)
    assert not await store.finish(batch, 14.0, [(output, b"{}\n")], "file-out", None)
    ended = await store.get("acme", "batch_1")
    assert ended is not None and (ended.status, ended.output_file_id) == ("completed", "file-out")
    assert await files.content("acme", "file-out") == b"{}\n"
    assert await store.finishable(20.0) == []


async def test_a_running_batchs_tenant_is_in_the_depth_until_it_ends_even_with_none_open(engine):
    store = BatchStore(engine)
    await a_batch(store, 2)
    assert await store.depth() == {"acme": 2}
    for line in await store.leases.claim(0.0, 10, 2):
        await store.leases.settle(line, "done", DONE)
    assert await store.depth() == {"acme": 0}, "settled, not yet finalized: still named"
