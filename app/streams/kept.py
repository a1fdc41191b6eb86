"""Serving a stream that is kept: written to an event log by a task of its own, read from it by
the client's connection, so that the answer outlives the connection.

    producer task ── events of the route ──> EventLog ──> the connection that started it
                                                     └──> reconnections (`Last-Event-ID`)

`start` is used for a resumable stream (its events carry `id:`, and `resume` serves them again
from any replica sharing the log), and for one whose client chose that the answer goes on when
it leaves (`on_disconnect: continue`). When the client leaves, its policy decides: `cancel`
stops the producer at once (which closes the upstream call); `continue` lets it finish. Either
way the request's metering waits for the producer (`MeteredRequest.goes_on_in`), so its ledger
row holds all that was generated. Idle connections get SSE comments every `keepalive` seconds.

A stream is kept while its producer runs, however long it is silent (a summary's map phase
sends nothing): the producer keeps it in the log through silences. A stream that cannot be
kept or read (the log failed) ends with an error event in its route's shape, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sse_starlette import EventSourceResponse

from app.errors import InvalidRequest, ServiceUnavailable, sse_error_event
from app.streams.log import Event, EventLog, InMemoryEventLog, StreamOwner, stream_not_found
from app.usage.lifecycle import MeteredRequest

logger = logging.getLogger(__name__)

Policy = Literal["cancel", "continue"]
#: What a route's stream yields: /v1's SSE text (`data: ...`), or LangServe's event dicts.
Frame = str | Mapping[str, Any]


@dataclass(frozen=True)
class StreamOptions:
    """How a client asked its stream to be served."""

    resumable: bool = False
    on_disconnect: Policy | None = None

    @property
    def policy(self) -> Policy:
        return self.on_disconnect or ("continue" if self.resumable else "cancel")

    @property
    def kept(self) -> bool:
        """Served through an event log (otherwise streamed straight to the client): the
        resumable ones, and those whose answer goes on when the client leaves (`policy`)."""
        return self.resumable or self.on_disconnect == "continue"


def _event(frame: Frame) -> Event | None:
    """The event a frame sends; None for a comment (a keep-alive: the connection sends its own).
    A text frame is `data: ...`, after an `event: name` line if its event is named."""
    if isinstance(frame, Mapping):
        return Event(frame.get("event"), str(frame.get("data", "")))
    name = None
    if frame.startswith("event:"):
        line, _, frame = frame.partition("\n")
        name = line[6:].strip()
    return Event(name, frame[5:].strip()) if frame.startswith("data:") else None


class KeptStreams:
    def __init__(self, log: EventLog, keepalive: float) -> None:
        self._log = log
        self._keepalive = keepalive

    async def start(
        self, stream_id: str, owner: StreamOwner, frames: AsyncIterator[Frame],
        metered: MeteredRequest, options: StreamOptions,
    ) -> EventSourceResponse:  # fmt: skip
        """Run `frames` into the log in a task of their own; answer with the live events."""
        log = self._log if options.resumable else InMemoryEventLog(self._log.retention)
        await log.open(stream_id, owner)
        producer = asyncio.create_task(self._produce(log, stream_id, owner, frames))
        metered.goes_on_in(producer)
        cancel = producer if options.policy == "cancel" else None
        events = self._sent(log.follow(stream_id, 0), owner, options.resumable, cancel)
        return EventSourceResponse(events, ping=self._keepalive)  # type: ignore[arg-type]

    async def resume(
        self, stream_id: str, owner: StreamOwner, last_event_id: str | None,
        invalid: type[InvalidRequest] = InvalidRequest,
    ) -> EventSourceResponse:  # fmt: skip
        """The events after `last_event_id`, then the live rest: only to the stream's owner.
        A malformed `Last-Event-ID` is an `invalid` error (/v1 answers 400, the rest 422)."""
        after = _event_number(last_event_id, invalid)
        if await self._log.owner(stream_id) != owner:
            raise stream_not_found(stream_id, self._log.retention)
        events = self._sent(self._log.follow(stream_id, after), owner, True, None)
        return EventSourceResponse(events, ping=self._keepalive)  # type: ignore[arg-type]

    async def _produce(
        self, log: EventLog, stream_id: str, owner: StreamOwner, frames: AsyncIterator[Frame]
    ) -> None:
        written = 0
        keeping = asyncio.create_task(self._keep(log, stream_id))
        try:
            async with contextlib.aclosing(frames):  # type: ignore[type-var]
                async for frame in frames:
                    event = _event(frame)
                    if event is not None:
                        written += 1
                        await log.append(stream_id, written, event)
        except Exception:
            logger.exception("a kept stream could not be written")
            with contextlib.suppress(Exception):
                written += 1
                await log.append(stream_id, written, _lost(owner))
        finally:
            keeping.cancel()
            with contextlib.suppress(Exception):
                await log.end(stream_id, written + 1)

    async def _keep(self, log: EventLog, stream_id: str) -> None:
        """Keep a live stream in the log through its silences, well within its retention."""
        every = min(self._keepalive, log.retention / 3)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):  # a log that failed is told by its readers
                await log.keep(stream_id)

    async def _sent(
        self, events: AsyncIterator[tuple[int, Event]], owner: StreamOwner, numbered: bool,
        cancel: asyncio.Task[None] | None,
    ) -> AsyncIterator[dict[str, str]]:  # fmt: skip
        ended = False
        try:
            async for number, event in events:
                yield _frame(event, number if numbered else None)
            ended = True
        except Exception:  # the log lost the stream while it was read
            logger.exception("a kept stream could not be read")
            yield _frame(_lost(owner), None)
        finally:
            if cancel is not None and not ended:
                cancel.cancel()  # the client left, and asked for the answer to stop with it


def _frame(event: Event, number: int | None) -> dict[str, str]:
    frame = {"data": event.data}
    if event.name:
        frame["event"] = event.name
    if number is not None:
        frame["id"] = str(number)
    return frame


def _lost(owner: StreamOwner) -> Event:
    """The error event that ends a stream the log could not keep, in its route's shape: an
    OpenAI error chunk on /v1, LangServe's `error` event elsewhere."""
    lost = ServiceUnavailable(
        "The stream could not be kept; the answer is incomplete. Retry the request.",
        code="stream_lost",
    )
    if owner.route.startswith("v1/"):
        return Event(None, json.dumps(lost.body()))
    event = sse_error_event(lost)
    return Event(event["event"], event["data"])


def _event_number(last_event_id: str | None, invalid: type[InvalidRequest]) -> int:
    if last_event_id is None:
        return 0
    if not (last_event_id.isascii() and last_event_id.isdigit()) or len(last_event_id) > 9:
        raise invalid(
            "Last-Event-ID must be the id of an event the stream sent (a whole number); "
            "leave it out to receive the stream from its start.",
            param="Last-Event-ID",
            code="invalid_header",
        )
    return int(last_event_id)
