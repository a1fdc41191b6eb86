"""The garbage collector, set for serving once startup has built its long-lived objects.

Startup builds hundreds of thousands of objects that live as long as the process: LangChain
runnables, pydantic models and schemas, FastAPI's routes. CPython's collector walks all of
them in every full collection, and requests allocate enough to set collections off often:
under 32 connections that cost a quarter of the throughput (docs/benchmarks.md).
`gc.freeze()` moves them where the collector never looks, and a larger young generation
(CPython's default is 700 allocations) makes the collections that remain rarer; garbage with
cycles is still collected, a little later.

The collector is the process's, so this is done once per process: by the first app to start in
it, as `genai serve` and each uvicorn worker have one. Where one process starts many apps (the
test suite, a host embedding several), a freeze at each startup would pin, for good, whatever
the others held at that moment.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION = 10_000


def freeze_startup_objects() -> None:
    if gc.get_freeze_count():  # an app started before in this process has done it
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)
