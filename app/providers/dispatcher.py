"""Calling an alias's deployments in OpenAI's protocol, for /v1 and the chains.

`Dispatcher.complete` (a whole answer) and `Dispatcher.stream` (an event stream) take a call
through the alias's deployments (failover.py: attempts, retries, the next deployment, hedges),
each reached through the client of its provider kind (clients.py). A stream is handed over
only once its first content has arrived, so whatever fails before the first byte reaches the
client is still answered by the next deployment; a chat answer cut short after it is continued
on the next deployment (continuation.py). Only deployments whose provider serves the endpoint
are tried (the embedded chat model makes no images, the embedded embedding model only embeds).
Which failures count against a deployment's health: failures.py. Before any of it, the
call's guardrails (guard_step.py) decide what its provider may see, and after, what its client
may; an alias with a moderation asks its moderation deployment first (moderation_step.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from app.errors import BadRequest
from app.providers.accounting import CallAccount
from app.providers.answer_cache import AnswerCache
from app.providers.answers import Answer, ChunkStream, EventStream
from app.providers.breaker import CircuitBreakers
from app.providers.cache_step import CacheStep
from app.providers.calls import Prompt, prompt_of
from app.providers.clients import Client, client_for
from app.providers.continuation import ContinuedStream
from app.providers.failover import FailoverState, Route
from app.providers.fair_queue import FairQueue
from app.providers.flights import Flights
from app.providers.guard_step import GuardedStream, GuardStep
from app.providers.hedging import Hedging
from app.providers.http import HttpPool
from app.providers.local_embedder import LocalEmbedder
from app.providers.local_tokenizer import ContextLimit
from app.providers.moderation_step import ENDPOINT as MODERATIONS
from app.providers.moderation_step import ModerationStep
from app.settings import ModelSpec


class Dispatcher:
    """Sends an alias's calls to its deployments until one answers (module doc)."""

    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        http: HttpPool,
        breakers: CircuitBreakers,
        local_url: str | None,
        local_context: ContextLimit | None = None,
        embedder: LocalEmbedder | None = None,
        cache: AnswerCache | None = None,
    ) -> None:
        self._models = dict(models)
        self._cache = cache
        self._cache_step = CacheStep(cache, Flights(cache.store)) if cache else None
        self._guard = GuardStep(models)
        self._moderation = ModerationStep(models)
        #: How long a call in flight may be silent before those following it make their own.
        self._silence = {
            alias: sum(d.answer_deadline for d in spec.deployments) + 5.0
            for alias, spec in models.items()
        }
        self._clients: dict[str, list[Client]] = {
            alias: [client_for(d, http, local_url, local_context, embedder)
                    for d in spec.deployments]
            for alias, spec in models.items()
        }  # fmt: skip
        queues = {
            d.name: FairQueue(d.name, d.max_concurrent, d.queue_per_tenant, d.queue_timeout)
            for spec in models.values()
            for d in spec.deployments
            if d.max_concurrent is not None
        }
        #: Continuations and hedges by (event, alias, deployment), for the metrics.
        self.events: Counter[tuple[str, str, str]] = Counter()
        self._state = FailoverState(breakers, Hedging(models), queues, self.events)
        self._serving: dict[tuple[str, str], list[Client]] = {}  # (alias, endpoint): its own

    def counts_exactly(self, alias: str) -> bool:
        """Whether the alias's tokens are counted exactly when its provider reports none (as
        its primary deployment counts them)."""
        return self._clients[alias][0].counts_exactly

    async def complete(
        self, alias: str, endpoint: str, body: Mapping[str, Any], *, account: CallAccount,
        prompt: Prompt | None = None,
    ) -> Answer:  # fmt: skip
        """A whole answer from the first deployment of `alias` that gives one. `prompt` is
        the body's, if the caller worked it out already (`prompt_of`)."""
        guard, body = await self._guard.request(alias, body, account)
        await self._moderate(alias, body, account)
        prompt = prompt_of(endpoint, body) if prompt is None or guard else prompt
        route = self._route(alias, endpoint, body, account, prompt, stream=False)
        plan = self._cache and self._cache.plan(alias, endpoint, body, account, stream=False)
        if plan and self._cache_step is not None:
            silence = self._silence[alias]
            answer = await self._cache_step.answer(plan, route, account, alias, prompt, silence)
        else:
            answer = await route.answered()
            assert isinstance(answer, Answer)
        return answer if guard is None else self._guard.answer(guard, answer)

    async def stream(
        self, alias: str, endpoint: str, body: Mapping[str, Any], *, account: CallAccount,
        prompt: Prompt | None = None,
    ) -> ChunkStream:  # fmt: skip
        """An event stream whose first content has arrived; the account holds it until the
        request ends, so it is closed even if its reader never is. A chat answer is continued
        on the next deployment if its own cuts it short (continuation.py)."""
        guard, body = await self._guard.request(alias, body, account)
        await self._moderate(alias, body, account)
        prompt = prompt_of(endpoint, body) if prompt is None or guard else prompt
        route = self._route(alias, endpoint, body, account, prompt, stream=True)
        continues = self._continues(alias, endpoint, body)
        plan = self._cache and self._cache.plan(alias, endpoint, body, account, stream=True)
        if plan and self._cache_step is not None:
            silence = self._silence[alias]
            stream: ChunkStream = await self._cache_step.stream(
                plan, route, account, alias, prompt, silence, continues
            )
        else:
            first = await route.answered()
            assert isinstance(first, EventStream)
            stream = ContinuedStream(first, route) if continues else first
        account.hold(stream)
        return stream if guard is None or not guard.scans_answers else GuardedStream(stream, guard)

    async def _moderate(self, alias: str, body: Mapping[str, Any], account: CallAccount) -> None:
        """The alias's moderation call, if it has one, and its verdict (moderation_step.py)."""
        asked = self._moderation.asked(alias, body)
        if asked is None:
            return
        moderator = asked.spec.model
        prompt = prompt_of(MODERATIONS, asked.body)
        route = self._route(moderator, MODERATIONS, asked.body, account, prompt, stream=False)
        answer = await route.answered()
        assert isinstance(answer, Answer)
        self._moderation.verdict(asked, answer, account)

    def _continues(self, alias: str, endpoint: str, body: Mapping[str, Any]) -> bool:
        spec = self._models[alias]
        single = body.get("n") in (None, 1)
        return spec.continues and endpoint == "chat/completions" and single

    def _route(
        self, alias: str, endpoint: str, body: Mapping[str, Any], account: CallAccount,
        prompt: Prompt, stream: bool,
    ) -> Route:  # fmt: skip
        """The call's way through the alias's deployments that serve `endpoint` (failover.py):
        in turn, or a slow one raced against the next if the alias hedges."""
        hedges = self._models[alias].hedge_after_ms is not None
        clients = self._serving.get((alias, endpoint)) or self.serving(alias, endpoint)
        return Route(clients, self._state, alias, endpoint, body, prompt, account, stream, hedges)

    def _serving_of(self, alias: str, endpoint: str) -> list[Client]:
        """The alias's deployments whose provider serves `endpoint`, worked out once."""
        clients = self._serving.get((alias, endpoint))
        if clients is None:
            clients = self._serving[alias, endpoint] = [
                client for client in self._clients[alias] if client.serves(endpoint)
            ]
        return clients

    def offers(self, alias: str, endpoint: str) -> bool:
        """Whether any deployment of `alias` serves `endpoint`."""
        return bool(self._serving_of(alias, endpoint))

    def serving(self, alias: str, endpoint: str) -> list[Client]:
        """The alias's deployments whose provider serves `endpoint`; a 400 naming the alias
        if none does (a request the alias cannot answer, whichever deployment is up)."""
        clients = self._serving.get((alias, endpoint)) or self._serving_of(alias, endpoint)
        if not clients:
            providers = ", ".join(
                dict.fromkeys(client.deployment.provider for client in self._clients[alias])
            )
            raise BadRequest(
                f"Model '{alias}' has no deployment that serves {endpoint} (its providers: "
                f"{providers}); use a model whose deployments do.",
                param="model", code="model_not_supported",
            )  # fmt: skip
        return clients

    async def probe(self, alias: str) -> str | None:
        """None when the alias's first deployment answers, else the problem."""
        problem = await self._clients[alias][0].probe()
        return None if problem is None else f"The provider of model '{alias}' {problem}."
