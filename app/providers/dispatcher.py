"""Calling an alias's deployments over HTTP in OpenAI's protocol, for /v1 and the chains.

`Dispatcher.complete` (a whole answer) and `Dispatcher.stream` (an event stream) try the
alias's deployments in order, skipping those whose circuit is open. Each deployment has one
deadline for its first token (for the whole answer when not streaming), its retries included:
a silent deployment costs one deadline, not one per retry. Within it, failures a retry may cure
are retried with exponential backoff (honouring `Retry-After`); then the next deployment is
tried. A stream is handed over only once its first content has arrived, so whatever fails
before the first byte reaches the client is still answered by the next deployment. A deployment
with a capacity (the embedded model) takes its calls in turn, tenant by tenant (fair_queue.py).
Only deployments whose provider serves the endpoint are tried (`serves`: the embedded chat model
makes no images, the embedded embedding model runs in this process and only embeds).
Which failures count against a deployment's health: failures.py. How a slow deployment is
hedged: route.py and hedging.py; how an answer cut short is continued: continuation.py.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from app.errors import BadRequest, PlatformError, ProviderRefused, ServiceUnavailable
from app.providers.accounting import CallAccount
from app.providers.answers import ANSWER_ITEMS, Answer, ChunkStream, EventStream, parse_answer
from app.providers.breaker import CircuitBreakers
from app.providers.calls import UpstreamCall, items_asked
from app.providers.continuation import ContinuedStream, Partial
from app.providers.failures import (
    TRANSPORT_ERRORS,
    Failure,
    early_failure,
    malformed,
    status_failure,
    timed_out,
    transport_failure,
)
from app.providers.fair_queue import FairQueue, Waiter
from app.providers.hedging import Hedging
from app.providers.http import HttpPool
from app.providers.local_embedder import LocalEmbedder
from app.providers.local_tokenizer import ContextLimit
from app.providers.route import Route, close_answer
from app.providers.uploads import form_data, has_uploads
from app.providers.upstream import Upstream, serves
from app.settings import ModelSpec

BACKOFF_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 4.0


def _backoff(attempt: int, failure: Failure) -> float:
    given = failure.retry_after
    delay = given if given is not None else BACKOFF_SECONDS * 2**attempt
    return min(delay, BACKOFF_CAP_SECONDS)


class Dispatcher:
    """Sends an alias's calls to its deployments, in order, until one answers (module doc)."""

    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        http: HttpPool,
        breakers: CircuitBreakers,
        local_url: str | None,
        local_context: ContextLimit | None = None,
        embedder: LocalEmbedder | None = None,
    ) -> None:
        self._models = dict(models)
        self._upstreams = {
            alias: [Upstream.of(d, local_url) for d in spec.deployments]
            for alias, spec in models.items()
        }
        self._queues = {
            d.name: FairQueue(d.name, d.max_concurrent, d.queue_per_tenant, d.queue_timeout)
            for spec in models.values()
            for d in spec.deployments
            if d.max_concurrent is not None
        }
        self._http = http
        self.breakers = breakers
        self._local_context = local_context
        self._embedder = embedder
        self._serving: dict[tuple[str, str], list[Upstream]] = {}  # (alias, endpoint): its own
        self._hedging = Hedging(models)
        #: Continuations and hedges by (event, alias, deployment), for the metrics.
        self.events: Counter[tuple[str, str, str]] = Counter()

    async def complete(
        self, alias: str, endpoint: str, body: Mapping[str, Any], *, account: CallAccount
    ) -> Answer:
        """A whole answer from the first deployment of `alias` that gives one."""
        answer, _ = await self._route(alias, endpoint, body, account, stream=False)
        assert isinstance(answer, Answer)
        return answer

    async def stream(
        self, alias: str, endpoint: str, body: Mapping[str, Any], *, account: CallAccount
    ) -> ChunkStream:
        """An event stream whose first content has arrived; the account holds it until the
        request ends, so it is closed even if its reader never is. A chat answer is continued
        on the next deployment if its own cuts it short (continuation.py)."""
        first, index = await self._route(alias, endpoint, body, account, stream=True)
        assert isinstance(first, EventStream)
        stream: ChunkStream = first
        if self._continues(alias, endpoint, body):

            async def reopen(partial: Partial, start: int) -> tuple[EventStream, int]:
                opened, at = await self._route(
                    alias, endpoint, body, account, stream=True, start=start, partial=partial
                )
                assert isinstance(opened, EventStream)
                self.events["continued", alias, opened.call.deployment] += 1
                return opened, at

            stream = ContinuedStream(first, index, reopen)
        account.hold(stream)
        return stream

    def _continues(self, alias: str, endpoint: str, body: Mapping[str, Any]) -> bool:
        spec = self._models[alias]
        single = body.get("n") in (None, 1)
        return spec.continues and endpoint == "chat/completions" and single

    async def _route(
        self, alias: str, endpoint: str, body: Mapping[str, Any], account: CallAccount,
        stream: bool, start: int = 0, partial: Partial | None = None,
    ) -> tuple[Answer | EventStream, int]:  # fmt: skip
        """The first answer of the deployments from `start` on, and the index of the one that
        gave it: tried in turn, a slow one raced against the next if the alias hedges."""
        route = Route(
            self.serving(alias, endpoint), self.breakers, self._try, alias, endpoint, body, account,
            stream, start, partial,
        )  # fmt: skip
        if self._models[alias].hedge_after_ms is None:
            answered = await route.in_turn()
        else:
            if partial is None:
                self._hedging.requested(alias)
            answered = await route.raced(self._hedging, self.events)
        if answered is not None:
            return answered
        if route.failures:
            raise _most_telling(route.failures)
        waits = [await self.breakers.retry_after(name) for name in route.skipped]
        wait = min(waits or [1.0])
        raise ServiceUnavailable(
            f"Every deployment of model '{alias}' is failing; retry in {wait:.0f} s.",
            code="deployments_unavailable",
            headers={"Retry-After": str(max(1, round(wait)))},
        )

    def _serving_of(self, alias: str, endpoint: str) -> list[Upstream]:
        """The alias's deployments whose provider serves `endpoint`, worked out once."""
        upstreams = self._serving.get((alias, endpoint))
        if upstreams is None:
            upstreams = self._serving[alias, endpoint] = [
                u for u in self._upstreams[alias] if serves(u.deployment.provider, endpoint)
            ]
        return upstreams

    def offers(self, alias: str, endpoint: str) -> bool:
        """Whether any deployment of `alias` serves `endpoint`."""
        return bool(self._serving_of(alias, endpoint))

    def serving(self, alias: str, endpoint: str) -> list[Upstream]:
        """The alias's deployments whose provider serves `endpoint`; a 400 naming the alias
        if none does (a request the alias cannot answer, whichever deployment is up)."""
        upstreams = self._serving.get((alias, endpoint)) or self._serving_of(alias, endpoint)
        if not upstreams:
            providers = ", ".join(
                dict.fromkeys(u.deployment.provider for u in self._upstreams[alias])
            )
            raise BadRequest(
                f"Model '{alias}' has no deployment that serves {endpoint} (its providers: "
                f"{providers}); use a model whose deployments do.",
                param="model", code="model_not_supported",
            )  # fmt: skip
        return upstreams

    async def _try(
        self, upstream: Upstream, endpoint: str, body: Mapping[str, Any], waiter: Waiter,
        stream: bool, call: UpstreamCall,
    ) -> Answer | EventStream:  # fmt: skip
        """One deployment, its circuit told how it went."""
        name = upstream.deployment.name
        started = time.perf_counter()
        try:
            answer = await self._on(upstream, endpoint, body, waiter, stream, call)
        except Failure as failure:
            await (self.breakers.failed if failure.counts else self.breakers.abandoned)(name)
            raise
        except BaseException:
            await self.breakers.abandoned(name)
            raise
        try:
            await self.breakers.succeeded(name)
        except BaseException:
            close_answer(answer)
            raise
        self._hedging.observe(name, time.perf_counter() - started)
        return answer

    async def _on(
        self, upstream: Upstream, endpoint: str, body: Mapping[str, Any], waiter: Waiter,
        stream: bool, call: UpstreamCall,
    ) -> Answer | EventStream:  # fmt: skip
        """One deployment: its turn (if it has a capacity), then attempts until its deadline."""
        deployment = upstream.deployment
        payload = upstream.payload(body)
        if deployment.provider == "local" and self._local_context is not None:
            refusal = self._local_context.refusal(endpoint, payload)
            if refusal is not None:
                raise Failure(refusal, counts=False, retryable=False)
        body = _body(payload)
        queue = self._queues.get(deployment.name)
        if deployment.provider == "local-embed":  # its turns are taken slice by slice
            return await self._embedded(payload, call, queue, waiter)
        release = await queue.acquire(waiter) if queue is not None else None
        answer: Answer | EventStream | None = None
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + deployment.answer_deadline
            for attempt in range(deployment.max_retries + 1):
                try:
                    async with asyncio.timeout_at(deadline):
                        answer = await self._attempt(
                            upstream, endpoint, payload, body, stream, call
                        )
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
            return answer
        except asyncio.CancelledError:  # from outside (not its deadline, which is a Failure):
            call.abandoned = True  # a hedge's loser, a request's end; its prompt is billed
            raise
        finally:
            if release is not None:
                release()

    async def _attempt(
        self, upstream: Upstream, endpoint: str, payload: dict[str, Any], body: Body,
        stream: bool, call: UpstreamCall,
    ) -> Answer | EventStream:  # fmt: skip
        started = time.perf_counter()
        response: aiohttp.ClientResponse | None = None
        data = body()
        headers = upstream.headers if isinstance(data, bytes) else upstream.form_headers
        try:
            response = await self._http.session.post(
                f"{upstream.base_url}/{endpoint}", data=data, headers=headers,
                params=upstream.params, timeout=upstream.timeout, proxy=upstream.proxy,
                allow_redirects=False,
            )  # fmt: skip
            if not 200 <= response.status < 300:
                raise status_failure(response.status, response.headers, await response.read())
            if not stream:
                raw = await response.read()
                seconds = time.perf_counter() - started
                answer = parse_answer(raw, seconds, endpoint, items_asked(endpoint, payload))
                _note(call, endpoint, answer)
                return answer
            if response.content_type != "text/event-stream":
                raise Failure(malformed(f"'{response.content_type}' for an event stream"),
                              counts=True, retryable=False)  # fmt: skip
            events = EventStream(response, call, items_asked(endpoint, payload))
            await events.first_content()
            response = None  # the stream's own now
            return events
        except (Failure, asyncio.CancelledError):
            raise
        except PlatformError as error:  # a malformed, cut or failed answer (answers.py)
            raise early_failure(error) from None
        except TRANSPORT_ERRORS as exc:
            raise transport_failure(exc) from None
        finally:
            if response is not None:
                response.close()  # a body not read to its end drops the connection

    async def _embedded(
        self, payload: dict[str, Any], call: UpstreamCall, queue: FairQueue | None,
        waiter: Waiter,
    ) -> Answer:  # fmt: skip
        """The embedded embedding model's answer, a slice per turn of its queue, so another
        tenant's request waits for one slice; what it refuses is the client's to fix."""
        embedder = self._embedder
        assert embedder is not None, "an alias uses local-embed, so it was built"
        try:
            embedding = await asyncio.to_thread(embedder.plan, payload)
        except ProviderRefused as refusal:
            raise Failure(refusal, counts=False, retryable=False) from None
        for texts in embedding.slices:
            release = await queue.acquire(waiter) if queue is not None else None
            try:
                await asyncio.to_thread(embedder.run, embedding, texts)
            finally:
                if release is not None:
                    release()
        answer = embedding.answer()
        call.usage = answer.usage
        return answer

    async def probe(self, alias: str) -> str | None:
        """None when the alias's first deployment answers (its model list), else the problem."""
        upstream = self._upstreams[alias][0]
        url = f"{upstream.base_url}/models"
        if upstream.deployment.provider in ("azure", "local-embed"):
            return None  # no model list to ask: Azure's, or a model in this process
        try:
            async with self._http.session.get(
                url,
                headers=upstream.headers,
                timeout=aiohttp.ClientTimeout(total=3.0),
                proxy=upstream.proxy,
            ) as response:
                status = response.status
        except TRANSPORT_ERRORS:
            return f"The provider of model '{alias}' does not answer."
        if status in (401, 403):
            return f"The provider of model '{alias}' refuses the API key."
        return None


Body = Callable[[], bytes | aiohttp.FormData]


def _body(payload: dict[str, Any]) -> Body:
    """What each attempt sends: the JSON, encoded once; a form with files, built anew (aiohttp
    sends a form once)."""
    if has_uploads(payload):
        return lambda: form_data(payload)
    data = orjson.dumps(payload)
    return lambda: data


def _note(call: UpstreamCall, endpoint: str, answer: Answer) -> None:
    """What a whole answer produced, on its call: texts, or images, and the reported usage."""
    call.usage = answer.usage
    if endpoint not in ANSWER_ITEMS:
        call.choices.extend(answer.data["choices"])
    elif endpoint.startswith("images/"):
        call.images = len(answer.data["data"])


def _most_telling(failures: list[Failure]) -> PlatformError:
    """What to tell the client when every deployment failed: a refusal of the request (its
    own fault, which it can fix) over the last deployment's failure."""
    for failure in failures:
        if isinstance(failure.error, ProviderRefused):
            return failure.error
    return failures[-1].error
