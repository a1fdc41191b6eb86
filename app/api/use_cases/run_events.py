"""A use case's stream as server-sent events: LangServe's events from the runnable's chunks, and
the ledger row written before the last event; a failure becomes the error event, and a stream
never ends with `end` after one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from app.api.use_cases.langserve_wire import SERIALIZER
from app.errors import InvalidRequest, sse_error_event
from app.streams.kept import StreamOptions
from app.usage.lifecycle import MeteredRequest

Events = AsyncIterator[dict[str, Any]]


async def chunk_events(runnable: Runnable[Any, Any], input_: Any, config: RunnableConfig) -> Events:
    """LangServe's stream events: `metadata` just before the first chunk, `data` per chunk,
    then `end`. A failure raises (`metered_events` makes it the error event)."""
    started = False
    async for chunk in runnable.astream(input_, config=config):
        if not started:
            started = True
            yield {"event": "metadata", "data": json.dumps({"run_id": str(config["run_id"])})}
        yield {"event": "data", "data": SERIALIZER.dumps(chunk).decode()}
    yield {"event": "end"}


async def metered_events(events: Events, metered: MeteredRequest) -> Events:
    """Pass the events on; the ledger row is written before the last one (`end` or `error`)
    goes out. A failure becomes the error event; a stream never ends with `end` after one.
    A client that leaves is recorded by the request's metering as it ends."""
    metrics = metered.metrics
    metrics.active_streams.inc()
    try:
        async for event in events:
            kind = event.get("event")
            if kind == "error":
                status = int(json.loads(event["data"]).get("status_code", 500))
                await metered.close(status, interrupted=True)
            elif kind == "end":
                await metered.close(200)
            yield event
    except Exception as exc:
        error_event = sse_error_event(exc)
        await metered.close(int(json.loads(error_event["data"])["status_code"]), interrupted=True)
        yield error_event
    finally:
        metrics.active_streams.dec()


def stream_options(body: dict[str, Any]) -> StreamOptions:
    """`resumable` and `on_disconnect` from the body's `config.configurable` (read here, as
    LangServe drops configurable keys its runnable does not declare)."""
    config = body.get("config")
    configurable = config.get("configurable") if isinstance(config, dict) else None
    if not isinstance(configurable, dict):
        return StreamOptions()
    resumable = configurable.get("resumable", False)
    if not isinstance(resumable, bool):
        raise InvalidRequest(
            "config.configurable.resumable must be true or false.",
            param="config.configurable.resumable", code="invalid_field",
        )  # fmt: skip
    policy = configurable.get("on_disconnect")
    if policy not in (None, "cancel", "continue"):
        raise InvalidRequest(
            'config.configurable.on_disconnect must be "cancel" or "continue".',
            param="config.configurable.on_disconnect", code="invalid_field",
        )  # fmt: skip
    return StreamOptions(resumable, policy)
