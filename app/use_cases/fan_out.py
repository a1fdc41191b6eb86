"""Calls a use case makes at once, as one group that ends with its request.

LangChain's `abatch_as_completed` starts a task per input and lets them run: when one fails,
or when the run is cancelled (its client left), the others go on calling models, unbilled,
holding other tenants' turns. `as_completed` here runs the same calls, yielding each output as
it comes, but the group is structured: the first failure, the run's cancellation, or a caller
that stops reading cancels every call still running and waits for it, so the request's ledger
row, written after, counts what each call did.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig

Output = TypeVar("Output")


async def as_completed(
    runnable: Runnable[Any, Output], inputs: Sequence[Any], config: RunnableConfig
) -> AsyncIterator[tuple[int, Output]]:
    """(index, output) of each input's run, as each completes; `max_concurrency` in the config
    bounds how many run at once. Use it with `contextlib.aclosing`."""
    limit = config.get("max_concurrency")
    gate = asyncio.Semaphore(limit) if limit else None

    async def run(item: Any) -> Output:
        if gate is None:
            return await runnable.ainvoke(item, config)
        async with gate:
            return await runnable.ainvoke(item, config)

    tasks = [asyncio.ensure_future(run(item)) for item in inputs]
    index = {task: number for number, task in enumerate(tasks)}
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=index.__getitem__):
                yield index[task], task.result()  # the first failure raises here
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
