"""The answer cache as a step of the dispatcher's calls: a hit answers at once, a miss is made
once however many identical calls arrive meanwhile (flights.py), and stored when it ended
honestly.

Every call the cache serves is recorded on the request's account like any call to a
deployment (an `UpstreamCall` of deployment `cache`, marked `hit` or `coalesced` and naming the
request that paid), so the meter counts its tokens by the one rule and bills it as a hit. The
account's `cache_status` says what the cache did, in RFC 9211's terms (`hit`,
`fwd=miss; stored`, `fwd=request`, `fwd=miss; collapsed`).

A stream's hit streams the cached chunks; a miss is stored only once its stream ended as the
provider ends a whole answer (a cut or failed one raises before that, so it is never kept). A
whole answer is kept as it came.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from app.cache import Entry, FlightRecord
from app.errors import PlatformError
from app.providers.accounting import CallAccount
from app.providers.answer_cache import AnswerCache, CachePlan
from app.providers.answers import Answer, Chunk, ChunkStream, EventStream
from app.providers.cache_streams import FlightStream, ReplayedStream, failure
from app.providers.calls import Prompt, UpstreamCall, Usage
from app.providers.continuation import ContinuedStream
from app.providers.failover import Route
from app.providers.flights import Flight, Flights

Record = Callable[[FlightRecord], Awaitable[None]]
Served = Literal["hit", "coalesced"]


def _served(
    account: CallAccount, alias: str, prompt: Prompt, how: Served, paid_by: str, local: bool,
    usage: Any,
) -> UpstreamCall:  # fmt: skip
    call = UpstreamCall(alias, "cache", local, prompt, cached=how, paid_by=paid_by)
    if isinstance(usage, list | tuple) and len(usage) == 2:
        call.usage = Usage(int(usage[0]), int(usage[1]))
    account.record(call)
    return call


def _hit(account: CallAccount, alias: str, prompt: Prompt, entry: Entry) -> UpstreamCall:
    """The call `entry` answers, noted on the account as a hit of its age."""
    account.note_cache("hit", entry.age(time.time()))
    return _served(account, alias, prompt, "hit", entry.paid_by, entry.local, entry.usage)


class CacheStep:
    def __init__(self, cache: AnswerCache, flights: Flights) -> None:
        self._cache = cache
        self._flights = flights

    # --- whole answers ---------------------------------------------------------------------

    async def answer(
        self, plan: CachePlan, route: Route, account: CallAccount, alias: str, prompt: Prompt,
        silence: float,
    ) -> Answer:  # fmt: skip
        entry = await self._cache.lookup(plan)
        if entry is not None:
            assert isinstance(entry.body, dict)
            call = _hit(account, alias, prompt, entry)
            call.choices = list(entry.body.get("choices") or ())
            return Answer(entry.body, call.usage, 0.0)
        while True:
            flight, leads = await self._flights.join(plan.scope, plan.key, silence)
            try:
                if leads:
                    record = self._flights.recorder(flight, silence)
                    work = self._make(plan, route, flight, record)
                    account.owe(self._flights.lead(flight, work))
                answered = await self._followed(flight, plan, account, alias, prompt, leads)
            finally:
                self._flights.leave(flight)
            if answered is not None:
                return answered

    async def _make(
        self, plan: CachePlan, route: Route, flight: Flight, record: Record
    ) -> Answer | None:
        """The leader's call: the answer, stored, then recorded for the flight's readers."""
        try:
            answer = await route.answered()
        except Exception as exc:
            return await _failed(flight, exc, record)
        assert isinstance(answer, Answer)
        await record(FlightRecord("item", {"body": answer.data}))
        await self._kept(plan, route, answer.data, answer.usage, record)
        return answer

    async def _kept(
        self, plan: CachePlan, route: Route, body: Any, usage: Usage | None, record: Record
    ) -> None:
        """The leader's answer ended honestly: stored, and its end recorded (who paid, its
        usage, whether it was stored) for the flight's readers."""
        local = any(call.local for call in route.calls if call.did_work)
        tokens = None if usage is None else (usage.input_tokens, usage.output_tokens)
        entry = Entry(plan.key, plan.kind, body, tokens, local, route.request_id, time.time())
        stored = await self._cache.keep(plan, entry)
        ended = {"usage": tokens, "local": local, "paid_by": entry.paid_by, "stored": stored}
        await record(FlightRecord("done", ended))

    async def _followed(
        self, flight: Flight, plan: CachePlan, account: CallAccount, alias: str,
        prompt: Prompt, leads: bool,
    ) -> Answer | None:  # fmt: skip
        """The flight's answer as this request gets it; None if the leader gave up."""
        body: dict[str, Any] = {}
        async for record in flight.read():
            if record.kind == "item":
                body = record.data.get("body") or {}
            elif record.kind == "failed":
                raise failure(flight, record)
            elif record.kind == "abandoned":
                return None
        done = flight.records[-1].data
        if leads:
            account.note_cache(_missed(plan, bool(done.get("stored"))))
            assert flight.pump is not None
            answer = await asyncio.shield(flight.pump)  # it may still be publishing its end
            assert isinstance(answer, Answer)
            return answer
        account.note_cache("fwd=miss; collapsed")
        call = _served(account, alias, prompt, "coalesced", str(done.get("paid_by")),
                       bool(done.get("local")), done.get("usage"))  # fmt: skip
        call.choices = list(body.get("choices") or ())
        return Answer(body, call.usage, 0.0)

    # --- streams ---------------------------------------------------------------------------

    async def stream(
        self, plan: CachePlan, route: Route, account: CallAccount, alias: str, prompt: Prompt,
        silence: float, continues: bool,
    ) -> ChunkStream:  # fmt: skip
        entry = await self._cache.lookup(plan)
        if entry is not None:
            assert isinstance(entry.body, list)
            return ReplayedStream(list(entry.body), _hit(account, alias, prompt, entry))
        while True:
            flight, leads = await self._flights.join(plan.scope, plan.key, silence)
            if leads:
                record = self._flights.recorder(flight, silence)
                work = self._relay(plan, route, flight, record, continues)
                account.owe(self._flights.lead(flight, work))
            reader = FlightStream(flight, self._flights)
            if not leads:  # noting what it is given, on the account once it opened
                reader.call = UpstreamCall(alias, "cache", False, prompt, cached="coalesced")
            try:
                opened = await reader.first_content()
            except BaseException:
                reader.close()
                raise
            if not opened:
                reader.close()
                continue
            if reader.call is None:
                account.note_cache("fwd=request" if plan.directives.no_cache else "fwd=miss")
            else:
                account.note_cache("fwd=miss; collapsed")
                account.record(reader.call)
            return reader

    async def _relay(
        self, plan: CachePlan, route: Route, flight: Flight, record: Record, continues: bool
    ) -> None:
        """The leader's stream, its chunks recorded for the flight's readers as they come,
        stored once it ended honestly."""
        try:
            first = await route.answered()
            assert isinstance(first, EventStream)
            stream: ChunkStream = ContinuedStream(first, route) if continues else first
            chunks: list[Chunk] = []
            async with stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    await record(FlightRecord("item", {"chunk": chunk}))
        except Exception as exc:
            await _failed(flight, exc, record)
            return
        await self._kept(plan, route, chunks, stream.usage, record)


async def _failed(flight: Flight, exc: Exception, record: Record) -> None:
    """The leader's call failed: its readers here raise `exc`, other replicas' its message."""
    flight.error = exc
    message = exc.message if isinstance(exc, PlatformError) else str(exc)
    code = exc.code if isinstance(exc, PlatformError) else None
    await record(FlightRecord("failed", {"message": message, "code": code}))


def _missed(plan: CachePlan, stored: bool) -> str:
    status = "fwd=request" if plan.directives.no_cache else "fwd=miss"
    return f"{status}; stored" if stored else status
