"""Where a kept stream's events wait for readers: the `EventLog`, and its in-process kind.

A stream is written by one producer, event by event, numbered 1, 2, 3...; then ended. Any
number of readers `follow` it from an event number on: the events kept after that number, then
the live ones as they are written, until the end. A stream is kept while it is live (its
producer `keep`s it through silences), and for `retention` seconds after its last event or
keep-alive, then forgotten. It belongs to the tenant that started it, on one route: a
reader names both, and a stream of another tenant or route is as good as missing.

`InMemoryEventLog` keeps streams in this process (a single replica); `RedisEventLog`
(redis_log.py) in Redis, where every replica reads them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from app.errors import NotFound


@dataclass(frozen=True)
class StreamOwner:
    tenant_id: str
    route: str  # "v1/chat/completions", or a use case's name


@dataclass(frozen=True)
class Event:
    """One SSE event as sent: its name (none for /v1's chunks) and its data."""

    name: str | None
    data: str


def stream_not_found(stream_id: str, retention: float) -> NotFound:
    return NotFound(
        f"No stream '{stream_id}' of yours is kept: it was not started as resumable, belongs "
        f"to another tenant or route, or ended more than {retention:.0f} s ago.",
        param="stream_id",
        code="stream_not_found",
    )


class EventLog(Protocol):
    retention: float

    async def open(self, stream_id: str, owner: StreamOwner) -> None: ...

    async def append(self, stream_id: str, number: int, event: Event) -> None: ...

    async def end(self, stream_id: str, number: int) -> None:
        """No event follows `number - 1`: readers stop there."""

    async def keep(self, stream_id: str) -> None:
        """The stream is live, though silent: keep it `retention` seconds more."""

    async def owner(self, stream_id: str) -> StreamOwner | None: ...

    def follow(self, stream_id: str, after: int) -> AsyncIterator[tuple[int, Event]]:
        """The events numbered above `after`, kept then live, until the stream's end."""


@dataclass
class _Kept:
    owner: StreamOwner
    expires: float
    events: list[Event] = field(default_factory=list)  # event n is events[n - 1]
    ended: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def touched(self, retention: float) -> None:
        self.expires = time.monotonic() + retention
        self.changed.set()  # wakes the readers waiting on it; later ones wait on a new one
        self.changed = asyncio.Event()


class InMemoryEventLog:
    def __init__(self, retention: float) -> None:
        self.retention = retention
        self._streams: dict[str, _Kept] = {}

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for stream_id in [key for key, kept in self._streams.items() if kept.expires < now]:
            del self._streams[stream_id]

    async def keep(self, stream_id: str) -> None:
        kept = self._streams.get(stream_id)
        if kept is not None:
            kept.expires = time.monotonic() + self.retention

    async def open(self, stream_id: str, owner: StreamOwner) -> None:
        self._forget_expired()
        self._streams[stream_id] = _Kept(owner, time.monotonic() + self.retention)

    async def append(self, stream_id: str, number: int, event: Event) -> None:
        kept = self._streams[stream_id]
        kept.events.append(event)
        kept.touched(self.retention)

    async def end(self, stream_id: str, number: int) -> None:
        kept = self._streams[stream_id]
        kept.ended = True
        kept.touched(self.retention)

    async def owner(self, stream_id: str) -> StreamOwner | None:
        self._forget_expired()
        kept = self._streams.get(stream_id)
        return kept.owner if kept else None

    async def follow(self, stream_id: str, after: int) -> AsyncIterator[tuple[int, Event]]:
        kept = self._streams.get(stream_id)
        if kept is None:
            raise stream_not_found(stream_id, self.retention)
        sent = after
        while True:
            changed = kept.changed
            while sent < len(kept.events):
                sent += 1
                yield sent, kept.events[sent - 1]
            if kept.ended:
                return
            await changed.wait()
