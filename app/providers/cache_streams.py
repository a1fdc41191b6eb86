"""The streams the answer cache hands out in place of a provider's: a hit's cached chunks
replayed, and an answer read from a flight (the leader's call, which its followers share), as
its chunks come (flights.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from app.cache import FlightRecord
from app.errors import ProviderError
from app.providers.answers import Chunk, has_content
from app.providers.calls import UpstreamCall, Usage
from app.providers.flights import Flight, Flights


def _cut_short() -> ProviderError:
    return ProviderError(
        "The answer this request shared with an identical one was cut short.",
        code="provider_incomplete",
    )


def failure(flight: Flight, record: FlightRecord) -> BaseException:
    """What the leader's call raised: itself on this replica, else as it was published."""
    if flight.error is not None:
        return flight.error
    return ProviderError(str(record.data.get("message") or "The model provider failed."),
                         code=str(record.data.get("code") or "provider_failed"))  # fmt: skip


class ReplayedStream:
    """A cached stream's chunks, as a provider's stream reads (a hit)."""

    upstream_seconds = 0.0

    def __init__(self, chunks: list[Chunk], call: UpstreamCall) -> None:
        self._chunks = chunks
        self.call = call
        self.usage = call.usage

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._replayed()

    async def _replayed(self) -> AsyncIterator[Chunk]:
        for chunk in self._chunks:
            self.call.choices += chunk.get("choices") or ()
            yield chunk

    def close(self) -> None:
        return None

    async def __aenter__(self) -> ReplayedStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


class FlightStream:
    """A stream read from a flight (the leader's and the followers' alike): its chunks as
    they come; closing it leaves the flight."""

    def __init__(self, flight: Flight, flights: Flights) -> None:
        self._flight = flight
        self._flights = flights
        self._records = flight.read()
        self._buffered: list[Chunk] = []
        self._ended = False
        self._closed = False
        self.call: UpstreamCall | None = None  # a follower's, noting what it was given
        self.usage: Usage | None = None
        self.upstream_seconds = 0.0

    async def first_content(self) -> bool:
        """Wait for the answer's first content (raising what failed before it): False if the
        leader gave up before it began."""
        started = time.perf_counter()
        async for record in self._records:
            if record.kind == "item":
                self._buffered.append(record.data["chunk"])
                if has_content(record.data["chunk"]):
                    break
            elif record.kind == "abandoned":
                return False
            elif record.kind == "failed":
                raise failure(self._flight, record)
            else:
                self._done(record)
                break
        self.upstream_seconds = time.perf_counter() - started
        return True

    def _done(self, record: FlightRecord) -> None:
        self._ended = True
        usage = record.data.get("usage")
        if isinstance(usage, list | tuple) and len(usage) == 2:
            self.usage = Usage(int(usage[0]), int(usage[1]))
        if self.call is not None:
            self.call.usage = self.usage
            self.call.local = bool(record.data.get("local"))
            self.call.paid_by = str(record.data.get("paid_by"))

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        for chunk in self._buffered:
            self._note(chunk)
            yield chunk
        self._buffered = []
        if self._ended:
            return
        async for record in self._records:
            if record.kind == "item":
                chunk = record.data["chunk"]
                self._note(chunk)
                yield chunk
            elif record.kind == "failed":
                raise failure(self._flight, record)
            elif record.kind == "abandoned":
                raise _cut_short()
            else:
                self._done(record)
                return

    def _note(self, chunk: Chunk) -> None:
        if self.call is not None:
            self.call.choices += chunk.get("choices") or ()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._flights.leave(self._flight)

    async def __aenter__(self) -> FlightStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()
