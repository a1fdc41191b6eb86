"""Failover: one model call's way through an alias's deployments, readable top to bottom.

    answered (in_turn, or raced when the alias hedges; continued for a stream cut short)
      └── next deployment not yet tried whose circuit lets it through, its call recorded
            └── the deployment: its fair turn (if it has a capacity), then attempts until its
                deadline, a failure a retry may cure retried with backoff (`Retry-After`)
                  └── one attempt: the provider's client (clients.py)

Each deployment has one deadline for its first token (for the whole answer when not
streaming), its retries included: a silent deployment costs one deadline, not one per retry.
Failures a retry cannot cure go to the next deployment at once. `raced` starts the next
deployment beside one that has no content after the hedging delay (hedging.py): the first to
answer wins, the other is cancelled, its call marked `abandoned` so its prompt is billed all
the same. Breakers, the hedge budget and the fair queues are state the loop consults
(`FailoverState`); none of them calls back. A stream cut short mid-answer is continued by the
same route (`continued`), on the deployments it has not tried yet (continuation.py). When
none answers, the route raises what the client should hear: a refusal of the request over
the last deployment's failure, or a 503 with the soonest a circuit may let a call through.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.errors import PlatformError, ProviderRefused, ServiceUnavailable
from app.providers.accounting import CallAccount
from app.providers.answers import EventStream
from app.providers.breaker import CircuitBreakers
from app.providers.calls import CallRole, Prompt, UpstreamCall, prompt_of
from app.providers.clients import Answered, Client, encoded
from app.providers.continuation import Partial, continuation_body
from app.providers.embedder_client import EmbedderClient
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
    """One call's way through an alias's deployments (module doc)."""

    def __init__(
        self, clients: list[Client], state: FailoverState, alias: str, endpoint: str,
        body: Mapping[str, Any], prompt: Prompt, account: CallAccount, stream: bool,
        hedges: bool,
    ) -> None:  # fmt: skip
        self._clients, self._state = clients, state
        self._alias, self._endpoint, self._body, self._prompt = alias, endpoint, body, prompt
        self._account, self._stream, self._hedges = account, stream, hedges
        self._waiting = iter(range(len(clients)))
        self._partial: Partial | None = None
        self._role: CallRole = "answer"
        self._waiter = Waiter(account.tenant_id, account.request_id, account.background)
        self.failures: list[Failure] = []
        self.skipped: list[str] = []
        self.calls: list[UpstreamCall] = []  # the calls it made, in order

    @property
    def request_id(self) -> str:
        return self._account.request_id

    async def answered(self) -> Answered:
        """The first answer of the deployments; raises what the client should hear if none
        answers (module doc)."""
        if self._hedges:
            if self._partial is None:
                self._state.hedging.requested(self._alias)
            answered = await self.raced()
        else:
            answered = await self.in_turn()
        if answered is not None:
            return answered
        if self.failures:
            raise _most_telling(self.failures)
        breakers = self._state.breakers
        waits = [await breakers.retry_after(name) for name in self.skipped]
        wait = min(waits or [1.0])
        raise ServiceUnavailable(
            f"Every deployment of model '{self._alias}' is failing; retry in {wait:.0f} s.",
            code="deployments_unavailable",
            headers={"Retry-After": str(max(1, round(wait)))},
        )

    async def continued(self, partial: Partial) -> EventStream:
        """The rest of a streamed answer cut short at `partial`, from the deployments not
        tried yet, each asked to go on from where it stopped (continuation.py)."""
        self._partial, self._role = partial, "continuation"
        self.failures, self.skipped = [], []
        stream = await self.answered()
        assert isinstance(stream, EventStream)
        self._state.events["continued", self._alias, stream.call.deployment] += 1
        return stream

    async def in_turn(self) -> Answered | None:
        """The first answer of the deployments tried one after the other."""
        while (attempt := await self._next()) is not None:
            _, work = attempt
            try:
                return await work
            except Failure as failure:
                self.failures.append(failure)
        return None

    async def raced(self) -> Answered | None:
        """As `in_turn`, but a deployment without content after the hedging delay has the next
        one started beside it; the first to answer wins, the other is cancelled (and billed)."""
        hedging, events = self._state.hedging, self._state.events
        running: dict[asyncio.Task[Answered], UpstreamCall] = {}
        hedged = False

        async def launch(role: CallRole | None = None) -> bool:
            attempt = await self._next(role)
            if attempt is not None:
                call, work = attempt
                running[asyncio.ensure_future(work)] = call
            return attempt is not None

        try:
            await launch()
            while running:
                hedge_in = None
                if not hedged and len(running) == 1:
                    [alone] = running.values()
                    hedge_in = hedging.delay(self._alias, alone.deployment)
                done, _ = await asyncio.wait(
                    running, timeout=hedge_in, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:  # the deployment is slow: race the next one against it
                    hedged = True
                    if hedging.may_hedge(self._alias) and await launch("hedge"):
                        hedge = list(running.values())[-1]
                        events["hedge_fired", self._alias, hedge.deployment] += 1
                    continue
                for task in done:
                    call = running.pop(task)
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
                    return answer  # the losers are cancelled below, their prompts billed
                if not running:
                    await launch()
        finally:
            for task in running:  # a race's losers, or all of them when the request ends
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return None

    async def _next(self, role: CallRole | None = None) -> tuple[UpstreamCall, Any] | None:
        """The next deployment not tried yet whose circuit lets it through: its call, recorded
        on the account, and the work of trying it (not started)."""
        for index in self._waiting:
            client = self._clients[index]
            deployment = client.deployment
            if not await self._state.breakers.allow(deployment.name):
                self.skipped.append(deployment.name)
                continue
            payload, prompt = self._body, self._prompt
            if self._partial is not None:  # the prompt holds the answer so far
                payload = continuation_body(payload, self._partial, deployment.continuation)
                prompt = prompt_of(self._endpoint, payload)
            call = UpstreamCall(self._alias, deployment.name, client.counts_exactly, prompt,
                                role or self._role)  # fmt: skip
            self._account.record(call)
            self.calls.append(call)
            return call, self._tried(client, payload, call)
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


def _most_telling(failures: list[Failure]) -> PlatformError:
    """What to tell the client when every deployment failed: a refusal of the request (its
    own fault, which it can fix) over the last deployment's failure."""
    for failure in failures:
        if isinstance(failure.error, ProviderRefused):
            return failure.error
    return failures[-1].error


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
