"""One call's way through an alias's deployments: each in turn, or raced when the alias hedges.

`Route` offers the deployments from a start index on, skipping those whose circuit is open, and
records each call it makes on the account (what the ledger counts). `in_turn` tries them one
after the other until one answers. `raced` starts the next deployment beside one that has no
content after the hedging delay (hedging.py): the first to answer wins, the other is cancelled,
its call marked `abandoned` so its prompt is billed all the same.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from app.providers.accounting import CallAccount
from app.providers.answers import Answer, EventStream
from app.providers.breaker import CircuitBreakers
from app.providers.calls import CallRole, UpstreamCall, prompt_of
from app.providers.continuation import Partial, continuation_body
from app.providers.failures import Failure
from app.providers.fair_queue import Waiter
from app.providers.hedging import Hedging
from app.providers.upstream import Upstream

Answered = Answer | EventStream
#: One deployment's try (the dispatcher's): upstream, endpoint, body, waiter, stream, call.
TryOne = Callable[
    [Upstream, str, Mapping[str, Any], Waiter, bool, UpstreamCall], Coroutine[Any, Any, Answered]
]
Attempt = tuple[int, UpstreamCall, Coroutine[Any, Any, Answered]]


class Route:
    """One call's way through an alias's deployments, from `start` on: the next deployment
    whose circuit lets it through, its call recorded on the account; then each in turn, or
    raced against the next one when slow (`raced`)."""

    def __init__(
        self, upstreams: list[Upstream], breakers: CircuitBreakers, attempt: TryOne,
        alias: str, endpoint: str, body: Mapping[str, Any], account: CallAccount,
        stream: bool, start: int, partial: Partial | None,
    ) -> None:  # fmt: skip
        self._breakers, self._attempt = breakers, attempt
        self._alias, self._endpoint, self._body = alias, endpoint, body
        self._account, self._stream, self._partial = account, stream, partial
        self._upstreams = upstreams
        self._waiting = iter(range(start, len(self._upstreams)))
        self._role: CallRole = "continuation" if partial else "answer"
        self.failures: list[Failure] = []
        self.skipped: list[str] = []

    async def _next(self, role: CallRole | None = None) -> Attempt | None:
        for index in self._waiting:
            upstream = self._upstreams[index]
            name = upstream.deployment.name
            if not await self._breakers.allow(name):
                self.skipped.append(name)
                continue
            payload = self._body
            if self._partial is not None:
                mode = upstream.deployment.continuation
                payload = continuation_body(payload, self._partial, mode)
            local = upstream.deployment.provider == "local"
            call = UpstreamCall(
                self._alias, name, local, prompt_of(self._endpoint, payload), role or self._role
            )
            self._account.record(call)
            waiter = Waiter(self._account.tenant_id, self._account.request_id)
            work = self._attempt(upstream, self._endpoint, payload, waiter, self._stream, call)
            return index, call, work
        return None

    async def in_turn(self) -> tuple[Answer | EventStream, int] | None:
        while (attempt := await self._next()) is not None:
            index, _, work = attempt
            try:
                return await work, index
            except Failure as failure:
                self.failures.append(failure)
        return None

    async def raced(
        self, hedging: Hedging, events: Counter[tuple[str, str, str]]
    ) -> tuple[Answer | EventStream, int] | None:
        """As `in_turn`, but a deployment without content after the hedging delay has the next
        one started beside it; the first to answer wins, the other is cancelled (and billed)."""
        running: dict[asyncio.Task[Answer | EventStream], tuple[int, UpstreamCall]] = {}
        hedged = False

        async def launch(role: CallRole | None = None) -> bool:
            attempt = await self._next(role)
            if attempt is not None:
                index, call, work = attempt
                running[asyncio.ensure_future(work)] = (index, call)
            return attempt is not None

        try:
            await launch()
            while running:
                hedge_in = None
                if not hedged and len(running) == 1:
                    [(_, alone)] = running.values()
                    hedge_in = hedging.delay(self._alias, alone.deployment)
                done, _ = await asyncio.wait(
                    running, timeout=hedge_in, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:  # the deployment is slow: race the next one against it
                    hedged = True
                    if hedging.may_hedge(self._alias) and await launch("hedge"):
                        hedge = list(running.values())[-1][1]
                        events["hedge_fired", self._alias, hedge.deployment] += 1
                    continue
                for task in done:
                    index, call = running.pop(task)
                    try:
                        answer = task.result()
                    except Failure as failure:
                        self.failures.append(failure)
                        continue
                    if call.role == "hedge":
                        events["hedge_won", self._alias, call.deployment] += 1
                    for other in done - {task}:  # finished together: the first one wins
                        running.pop(other, None)
                        _discard(other)
                    return answer, index  # the losers are cancelled below, their prompts billed
                if not running:
                    await launch()
        finally:
            for task in running:  # a race's losers, or all of them when the request ends
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return None


def close_answer(answer: Answer | EventStream) -> None:
    if isinstance(answer, EventStream):
        answer.close()


def _discard(task: asyncio.Task[Answer | EventStream]) -> None:
    """The answer of a race's other winner: closed (what it did is billed all the same)."""
    if not task.cancelled() and task.exception() is None:
        close_answer(task.result())
