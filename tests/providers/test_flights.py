"""Calls in flight, shared: a reader leaving does not stop the call while another reads it; the
last leaving does; a request that leaves before its call began hands it to those who wait."""

from __future__ import annotations

import asyncio

from app.cache import FlightRecord, MemoryCacheStore, Scope
from app.providers.flights import Flights

SCOPE = Scope("acme", "gpt")


async def test_a_second_identical_call_follows_the_first_and_one_leaving_stops_nothing():
    flights = Flights(MemoryCacheStore(1_000_000))
    first, leads = await flights.join(SCOPE, "k", 10)
    second, follows = await flights.join(SCOPE, "k", 10)
    assert (first is second, leads, follows) == (True, True, False)
    release = asyncio.Event()

    async def call() -> str:
        record = flights.recorder(first, 10)
        await record(FlightRecord("item", {"chunk": 1}))
        await release.wait()
        await record(FlightRecord("done"))
        return "answered"

    pump = flights.lead(first, call())
    await asyncio.sleep(0)
    flights.leave(first)  # the leader's client left
    release.set()
    assert await pump == "answered"  # its follower still reads it
    assert [r.kind async for r in second.read()] == ["item", "done"]
    flights.leave(second)


async def test_the_call_is_cancelled_once_its_last_reader_left():
    flights = Flights(MemoryCacheStore(1_000_000))
    flight, _ = await flights.join(SCOPE, "k", 10)
    pump = flights.lead(flight, asyncio.sleep(60))
    flights.leave(flight)
    await asyncio.gather(pump, return_exceptions=True)
    assert pump.cancelled()
    assert flight.records[-1].kind == "abandoned"
    again, leads = await flights.join(SCOPE, "k", 10)
    assert again is not flight and leads  # an ended flight is not joined: a new call leads


async def test_a_flight_whose_leader_left_while_claiming_is_abandoned_for_its_followers():
    class SlowClaims(MemoryCacheStore):
        async def claim(self, scope: Scope, key: str, ttl: float) -> bool:
            await asyncio.sleep(60)
            return True

    flights = Flights(SlowClaims(1_000_000))
    leader = asyncio.ensure_future(flights.join(SCOPE, "k", 10))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(flights.join(SCOPE, "k", 10))
    await asyncio.sleep(0)
    leader.cancel()
    flight, leads = await follower
    assert not leads
    assert [r.kind async for r in flight.read()] == ["abandoned"]  # it then leads a new one
