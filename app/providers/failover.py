"""Failover: one model call's way through an alias's deployments, readable top to bottom.

    answer (in_turn, or raced when the alias hedges)
      └── next deployment from `start` on whose circuit lets it through, its call recorded
            └── the deployment: its fair turn (if it has a capacity), then attempts until its
                deadline, a failure a retry may cure retried with backoff (`Retry-After`)
                  └── one attempt: the provider's client (clients.py)

Each deployment has one deadline for its first token (for the whole answer when not
streaming), its retries included: a silent deployment costs one deadline, not one per retry.
Failures a retry cannot cure go to the next deployment at once. `raced` starts the next
deployment beside one that has no content after the hedging delay (hedging.py): the first to
answer wins, the other is cancelled, its call marked `abandoned` so its prompt is billed all
the same. Breakers, the hedge budget and the fair queues are state the loop consults
(`FailoverState`); none of them calls back. Continuing a stream cut short starts a new `Route`
from the next deployment (continuation.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.providers.accounting import CallAccount
from app.providers.answers import EventStream
from app.providers.breaker import CircuitBreakers
from app.providers.calls import CallRole, UpstreamCall, prompt_of
from app.providers.clients import Answered, Client, EmbedderClient, encoded
from app.providers.continuation import Partial, continuation_body
from app.providers.failures import Failure, timed_out
from app.providers.fair_queue import FairQueue, Waiter
from app.providers.hedging import Hedging

BACKOFF_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 4.0


@dataclass(frozen=True)
class FailoverState:
    """What the loop consults: circuits, the hedge budget, capacities; and what it counts."""

    breakers: CircuitBreakers
    hedging: Hedging
    queues: Mapping[str, FairQueue]  # by deployment name: those with a capacity
    events: Counter[tuple[str, str, str]]  # hedges by (event, alias, deployment)


class Route:
    """One call's way through an alias's deployments, from `start` on (module doc)."""

    def __init__(
        self, clients: list[Client], state: FailoverState, alias: str, endpoint: str,
        body: Mapping[str, Any], account: CallAccount, stream: bool, start: int,
        partial: Partial | None,
    ) -> None:  # fmt: skip
        self._clients, self._state = clients, state
        self._alias, self._endpoint, self._body = alias, endpoint, body
        self._account, self._stream, self._partial = account, stream, partial
        self._waiting = iter(range(start, len(clients)))
        self._role: CallRole = "continuation" if partial else "answer"
        self._waiter = Waiter(account.tenant_id, account.request_id)
        self.failures: list[Failure] = []
        self.skipped: list[str] = []

    async def in_turn(self) -> tuple[Answered, int] | None:
        """The first answer of the deployments tried one after the other."""
        while (attempt := await self._next()) is not None:
            index, _, work = attempt
            try:
                return await work, index
            except Failure as failure:
                self.failures.append(failure)
        return None

    async def raced(self) -> tuple[Answered, int] | None:
        """As `in_turn`, but a deployment without content after the hedging delay has the next
        one started beside it; the first to answer wins, the other is cancelled (and billed)."""
        hedging, events = self._state.hedging, self._state.events
        running: dict[asyncio.Task[Answered], tuple[int, UpstreamCall]] = {}
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

    async def _next(self, role: CallRole | None = None) -> tuple[int, UpstreamCall, Any] | None:
        """The next deployment whose circuit lets it through: its call, recorded on the
        account, and the work of trying it (not started)."""
        for index in self._waiting:
            client = self._clients[index]
            deployment = client.deployment
            if not await self._state.breakers.allow(deployment.name):
                self.skipped.append(deployment.name)
                continue
            payload = self._body
            if self._partial is not None:
                payload = continuation_body(payload, self._partial, deployment.continuation)
            call = UpstreamCall(
                self._alias, deployment.name, client.counts_exactly,
                prompt_of(self._endpoint, payload), role or self._role,
            )  # fmt: skip
            self._account.record(call)
            return index, call, self._tried(client, payload, call)
        return None

    async def _tried(self, client: Client, body: Mapping[str, Any], call: UpstreamCall) -> Answered:
        """One deployment, its circuit told how it went: its turn (if it has a capacity), then
        attempts until its deadline."""
        breakers, deployment, endpoint = self._state.breakers, client.deployment, self._endpoint
        name = deployment.name
        started = time.perf_counter()
        queue = self._state.queues.get(name)
        release = None
        answer: Answered | None = None
        try:
            payload = client.payload(body)
            refusal = client.refusal(endpoint, payload)
            if refusal is not None:
                raise Failure(refusal, counts=False, retryable=False)
            if isinstance(client, EmbedderClient):  # its turns are taken slice by slice
                answer = await client.embed(payload, call, queue, self._waiter)
            else:
                sent = encoded(payload)
                release = await queue.acquire(self._waiter) if queue is not None else None
                loop = asyncio.get_running_loop()
                deadline = loop.time() + deployment.answer_deadline
                for attempt in range(deployment.max_retries + 1):
                    try:
                        async with asyncio.timeout_at(deadline):
                            answer = await client.send(endpoint, payload, sent, self._stream, call)
                        break
                    except TimeoutError:
                        raise Failure(timed_out(), counts=True, retryable=False) from None
                    except Failure as failure:
                        delay = _backoff(attempt, failure)
                        last_try = attempt == deployment.max_retries
                        if not failure.retryable or last_try or loop.time() + delay >= deadline:
                            raise
                    await asyncio.sleep(delay)
                assert answer is not None
                if isinstance(answer, EventStream) and release is not None:
                    answer.when_closed(release)  # its turn lasts as long as the stream
                    release = None
            await breakers.succeeded(name)
        except Failure as failure:
            await (breakers.failed if failure.counts else breakers.abandoned)(name)
            raise
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):  # from outside (not its deadline):
                call.abandoned = True  # a hedge's loser, a request's end; its prompt is billed
            if answer is not None:
                close_answer(answer)
            await breakers.abandoned(name)
            raise
        finally:
            if release is not None:
                release()
        self._state.hedging.observe(name, time.perf_counter() - started)
        return answer


def _backoff(attempt: int, failure: Failure) -> float:
    given = failure.retry_after
    delay = given if given is not None else BACKOFF_SECONDS * 2**attempt
    return min(delay, BACKOFF_CAP_SECONDS)


def close_answer(answer: Answered) -> None:
    if isinstance(answer, EventStream):
        answer.close()


def _discard(task: asyncio.Task[Answered]) -> None:
    """The answer of a race's other winner: closed (what it did is billed all the same)."""
    if not task.cancelled() and task.exception() is None:
        close_answer(task.result())
