"""Two `genai serve` replicas on this machine's PostgreSQL and Redis work on one batch: one
killed with SIGKILL mid-batch leaves its lines to the other once their leases lapse, and the
other killed too, two new ones resume the batch where it stood. Every line is answered once in the
output and has one row in the ledger, whatever replica died holding it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from openai.types import Batch

from tests.integration.conftest import RunningPlatform, platform_process
from tests.support.databases import fresh_postgres
from tests.support.fault_upstream import running_fault_upstream
from tests.support.redis_state import fresh_prefix, redis_or_skip

LINES = 64


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """What every replica shares: the database, Redis, the secret and the config."""
    with running_fault_upstream() as upstream:
        config = tmp_path / "config.yaml"
        models = {"brief": {"provider": "openai-compatible", "base_url": upstream,
                            "model": "brief"}}  # fmt: skip
        config.write_text(yaml.safe_dump({"models": models, "default_model": "brief"}))
        shared = {
            "GENAI_DATABASE_URL": fresh_postgres(), "GENAI_REDIS_URL": redis_or_skip(),
            "GENAI_REDIS_PREFIX": fresh_prefix(), "GENAI_SECRET_KEY": "replicas-share-this",
            "GENAI_CONFIG_FILE": str(config), "GENAI_BATCH_LEASE_SECONDS": "1",
            "GENAI_BATCH_POLL_SECONDS": "0.1",
        }  # fmt: skip
        yield shared, tmp_path / "data"


def replicas(stack: ExitStack, cluster: tuple[dict[str, str], Path], count: int
             ) -> list[RunningPlatform]:  # fmt: skip
    shared, data = cluster
    return [stack.enter_context(platform_process(data, **shared)) for _ in range(count)]


async def started_batch(sdk: openai.AsyncOpenAI) -> str:
    lines = "".join(
        json.dumps({"custom_id": f"line-{n}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "brief", "messages": [{"role": "user", "content": "hi"}]}})
        + "\n" for n in range(LINES)
    )  # fmt: skip
    file = await sdk.files.create(file=("in.jsonl", io.BytesIO(lines.encode())), purpose="batch")
    batch = await sdk.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")  # fmt: skip
    return batch.id


async def until(sdk: openai.AsyncOpenAI, batch_id: str, done: int | None = None) -> Batch:
    """The batch once `done` lines are answered (None: once it ended)."""
    for _ in range(600):
        batch = await sdk.batches.retrieve(batch_id)
        if batch.status == "completed" or (done is not None and
                                           batch.request_counts.completed >= done):  # fmt: skip
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id}: {batch.status}, {batch.request_counts}")


def sdk_of(replica: RunningPlatform) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{replica.url}/v1", api_key=replica.admin_key,
                              max_retries=0)  # fmt: skip


async def answered_once(replica: RunningPlatform, batch: Batch) -> None:
    """Every line once in the output file, and once in the ledger."""
    assert (batch.status, batch.request_counts.completed) == ("completed", LINES)
    async with sdk_of(replica) as sdk:
        output = (await sdk.files.content(batch.output_file_id or "")).text.splitlines()
    custom_ids = [json.loads(line)["custom_id"] for line in output]
    assert sorted(custom_ids) == sorted(f"line-{n}" for n in range(LINES))
    async with httpx.AsyncClient(base_url=replica.url, headers=replica.headers) as client:
        rows = (await client.get("/usage", params={"batch_id": batch.id})).json()["records"]
    assert sorted(row["custom_id"] for row in rows) == sorted(custom_ids), "one row per line"
    assert {row["status"] for row in rows} == {200}


async def test_a_batch_survives_its_replicas_killed_one_then_all(cluster):
    """One replica killed mid-batch: the other takes up its lines once their leases lapse.
    Then that one killed too: two new replicas resume the batch where it stood."""
    with ExitStack() as stack:
        survivor, victim = replicas(stack, cluster, 2)
        async with sdk_of(survivor) as sdk:
            batch_id = await started_batch(sdk)
            await until(sdk, batch_id, done=8)  # both replicas hold lines now
            os.kill(victim.pid, signal.SIGKILL)
            before = await until(sdk, batch_id, done=LINES // 2)
        os.kill(survivor.pid, signal.SIGKILL)
    with ExitStack() as stack:
        fresh = replicas(stack, cluster, 2)
        async with sdk_of(fresh[1]) as sdk:
            assert (await sdk.batches.retrieve(batch_id)).request_counts.completed >= (
                before.request_counts.completed
            ), "nothing answered was lost"
            batch = await until(sdk, batch_id)
        await answered_once(fresh[0], batch)
