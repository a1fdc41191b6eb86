"""Identical calls in flight, made once: the first leads, the others follow its answer.

The leader's call runs in a task of its own (its pump), which writes what arrives to the
flight: a stream's chunks as they come, or the whole answer, then how it ended. Every
request reads the flight, the leader's too, so a reader that leaves does not cut the others
off: the pump is cancelled only once every reader of this replica has left. With a store
shared by the replicas (Redis), a call in flight on one replica is claimed there and its
records are published, and another replica's identical calls follow them as they come.

A follower whose leader gave up before its answer began (its last reader left, its replica
died) makes the call itself, leading it for those who come after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.cache import CacheStore, FlightRecord, Scope

#: How long a replica's claim on a call lasts unless renewed (every second, while it runs): a
#: replica killed mid-call lets its followers elsewhere make their own within this.
CLAIM_SECONDS = 3.0
RENEW_SECONDS = 1.0


class Flight:
    """One call in flight on this replica: its records, and its readers."""

    def __init__(self, scope: Scope, key: str, leads: bool) -> None:
        self.scope, self.key = scope, key
        self.leads = leads  # this replica makes the call (else it follows another's)
        self.records: list[FlightRecord] = []
        self._news = asyncio.Event()
        self.readers = 0
        self.pump: asyncio.Task[Any] | None = None
        self.claimed = asyncio.Event()  # set once it is known whether this replica leads
        self.error: BaseException | None = None  # what the leader's call raised

    @property
    def ended(self) -> bool:
        return bool(self.records) and self.records[-1].kind != "item"

    def add(self, record: FlightRecord) -> None:
        self.records.append(record)
        self._news.set()
        self._news = asyncio.Event()

    async def read(self) -> AsyncIterator[FlightRecord]:
        """Every record from the first, as they come; ends after the last."""
        at = 0
        while True:
            while at < len(self.records):
                record = self.records[at]
                at += 1
                yield record
                if record.kind != "item":
                    return
            await self._news.wait()


class Flights:
    """The calls in flight on this replica, by cache key (module doc)."""

    def __init__(self, store: CacheStore) -> None:
        self._store = store
        self._open: dict[tuple[str, str], Flight] = {}
        self._telling: set[asyncio.Task[None]] = set()  # publishing an end, renewing a claim

    async def join(self, scope: Scope, key: str, silence: float) -> tuple[Flight, bool]:
        """The flight of this call, joined (one in flight here or on another replica, or a
        new one), and whether this request is to make the call (then `lead` it)."""
        place = (scope.path, key)
        flight = self._open.get(place)
        if flight is not None and not flight.ended:  # one that ended is not joined again
            flight.readers += 1
            try:
                await flight.claimed.wait()  # whether this replica makes it, or follows
            except BaseException:
                self.leave(flight)
                raise
            return flight, False
        flight = self._open[place] = Flight(scope, key, leads=True)
        flight.readers += 1
        try:
            flight.leads = await self._store.claim(scope, key, CLAIM_SECONDS)
        except BaseException:  # its request left: those who joined meanwhile make the call
            flight.add(FlightRecord("abandoned"))
            self.leave(flight)
            raise
        finally:
            flight.claimed.set()
        if not flight.leads:
            flight.pump = asyncio.ensure_future(self._follow(flight, silence))
        return flight, flight.leads

    def lead(self, flight: Flight, work: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run the leader's call in its pump: `work` adds the flight's records (by a
        `recorder`)."""
        flight.pump = asyncio.ensure_future(work)
        flight.pump.add_done_callback(lambda _: self._ended(flight))
        if self._store.shared:
            renewing = asyncio.ensure_future(self._renew(flight, flight.pump))
            self._telling.add(renewing)
            renewing.add_done_callback(self._telling.discard)
        return flight.pump

    async def _renew(self, flight: Flight, pump: asyncio.Task[Any]) -> None:
        """Keep this replica's claim on the call while it runs."""
        while not pump.done():
            await asyncio.wait({pump}, timeout=RENEW_SECONDS)
            if not pump.done():
                await self._store.renew(flight.scope, flight.key, CLAIM_SECONDS)

    def recorder(self, flight: Flight, ttl: float) -> Callable[[FlightRecord], Awaitable[None]]:
        """How the leader's call records a step: on the flight, and for the other replicas."""

        async def record(step: FlightRecord) -> None:
            flight.add(step)
            if self._store.shared:
                await self._store.publish(flight.scope, flight.key, step, ttl)

        return record

    def leave(self, flight: Flight) -> None:
        """A reader is done with the flight: once none is left, its call is not needed."""
        flight.readers -= 1
        if flight.readers <= 0 and not flight.ended and flight.pump and not flight.pump.done():
            flight.pump.cancel()  # (one that ended may still be telling other replicas so)
        if flight.readers <= 0 and flight.ended:
            self._close(flight)

    def _ended(self, flight: Flight) -> None:
        if not flight.ended:  # cancelled before it could say how it ended
            flight.add(FlightRecord("abandoned"))
            if self._store.shared and flight.leads:  # its followers elsewhere make their own
                told = FlightRecord("abandoned")
                telling = asyncio.ensure_future(
                    self._store.publish(flight.scope, flight.key, told, 1)
                )
                self._telling.add(telling)
                telling.add_done_callback(self._telling.discard)
        if flight.readers <= 0:
            self._close(flight)

    def _close(self, flight: Flight) -> None:
        place = (flight.scope.path, flight.key)
        if self._open.get(place) is flight:
            del self._open[place]

    async def _follow(self, flight: Flight, silence: float) -> None:
        """Another replica's call, its records read into this replica's flight."""
        try:
            async for record in self._store.follow(flight.scope, flight.key, silence):
                flight.add(record)
        finally:
            self._ended(flight)
