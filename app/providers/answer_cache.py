"""Which calls the answer cache serves, under which key, and reading and writing its entries.

A call is cached when its alias's `cache.mode` (or its tenant's) is `exact` or `semantic`, its
endpoint is chat/completions, completions or embeddings, and (unless the alias says
otherwise) its answer is fixed: temperature 0, or a seed (an embedding always is). The key
is a digest of the tenant, the alias, the endpoint, whether it streams, and the request as the
provider gets it, less the fields that do not change the answer and with the defaults left
out: a chain's prompt is in its messages, so another prompt version is another key.

A semantic lookup, after an exact miss, embeds the last user message with the embedded
embedding model and looks for the nearest entry among those whose request is the same in
everything else (a partition of its own): a paraphrase of the same question, after the same
conversation, at the alias's `similarity`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.cache import CacheDirectives, CacheStore, Entry, Kind, Scope, digest
from app.providers.accounting import CallAccount
from app.providers.calls import message_text
from app.providers.local_embedder import LocalEmbedder
from app.settings import CacheSpec, ModelSpec

ENDPOINTS = frozenset({"chat/completions", "completions", "embeddings"})
#: Fields that change how an answer is delivered, not what it says.
_DELIVERY = frozenset({"stream", "stream_options", "user", "metadata", "store"})
#: The API's defaults: a field set to its default asks nothing else.
_DEFAULTS: Mapping[str, Any] = {
    "temperature": 1, "top_p": 1, "n": 1, "presence_penalty": 0, "frequency_penalty": 0,
    "logprobs": False, "echo": False, "best_of": 1, "encoding_format": "float",
}  # fmt: skip
_QUERY = "\x00query"  # stands for the last user message in a semantic partition's request


@dataclass
class CachePlan:
    """One call the cache may serve: where its entry is kept, and what it may do."""

    scope: Scope
    key: str
    kind: Kind  # a whole answer, or a stream
    spec: CacheSpec
    directives: CacheDirectives
    partition: str | None = None  # semantic: the requests alike but for the last question
    query: str | None = None
    vector: bytes | None = None


def asked(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request as it bears on the answer (module doc)."""
    return {
        name: value
        for name, value in body.items()
        if name not in _DELIVERY and not (name in _DEFAULTS and value == _DEFAULTS[name])
    }


def split_query(endpoint: str, request: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The request with its last user message taken out, and that message's text; None if
    it does not end with one."""
    if endpoint == "completions" and isinstance(request.get("prompt"), str):
        return {**request, "prompt": _QUERY}, request["prompt"]
    messages = request.get("messages")
    if endpoint != "chat/completions" or not isinstance(messages, list) or not messages:
        return None
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    text = message_text(last.get("content"))
    if not text:
        return None
    return {**request, "messages": [*messages[:-1], {**last, "content": _QUERY}]}, text


class AnswerCache:
    """Plans, looks up and stores the dispatcher's cached calls (module doc)."""

    def __init__(
        self, models: Mapping[str, ModelSpec], store: CacheStore, max_entry_bytes: int,
        embedder: LocalEmbedder | None,
    ) -> None:  # fmt: skip
        self._specs = {alias: spec.cache for alias, spec in models.items()}
        self.store = store
        self._max_entry_bytes = max_entry_bytes
        self._embedder = embedder

    def plan(
        self, alias: str, endpoint: str, body: Mapping[str, Any], account: CallAccount,
        stream: bool,
    ) -> CachePlan | None:  # fmt: skip
        """The call's plan, if the cache may serve it; a request that says `no-store` is
        noted on its account as one the cache let through."""
        spec, directives = self._specs[alias], account.cache
        tenant_mode = directives.tenant_mode  # `off` on either side is off (inline: per call)
        mode = "off" if tenant_mode == "off" or spec.mode == "off" else tenant_mode or spec.mode
        if mode == "off" or endpoint not in ENDPOINTS:
            return None
        fixed = (
            endpoint == "embeddings" or body.get("temperature") == 0 or body.get("seed") is not None
        )
        if spec.deterministic_only and not fixed:
            return None
        if directives.no_store:
            account.note_cache("fwd=request")
            return None
        tenant_id = account.tenant_id
        request = asked(body)
        kind: Kind = "stream" if stream else "answer"
        scope = Scope(tenant_id, alias)
        plan = CachePlan(scope, digest(tenant_id, alias, endpoint, kind, request), kind, spec,
                         directives)  # fmt: skip
        if mode == "semantic" and self._embedder is not None:
            split = split_query(endpoint, request)
            if split is not None:
                plan.partition = digest(tenant_id, alias, endpoint, kind, split[0])
                plan.query = split[1]
        return plan

    async def lookup(self, plan: CachePlan) -> Entry | None:
        """The entry that answers `plan`: its own, else (semantic) the nearest; an entry
        that is not well formed is dropped, one older than the request's max-age skipped."""
        if not plan.directives.reads:
            return None
        entry = await self._read(plan, plan.key)
        if entry is None and plan.query is not None and plan.partition is not None:
            vector = await self._vector(plan)
            if vector is not None:
                near = await self.store.nearest(plan.scope, plan.partition, vector,
                                                plan.spec.similarity)  # fmt: skip
                if near is not None:
                    entry = await self._read(plan, near)
        return entry

    async def _read(self, plan: CachePlan, key: str) -> Entry | None:
        raw = await self.store.get(plan.scope, key)
        if raw is None:
            return None
        entry = Entry.decode(raw, key)
        if entry is None or entry.kind != plan.kind:
            await self.store.delete(plan.scope, key)  # poisoned: the answer replaces it
            return None
        max_age = plan.directives.max_age
        if max_age is not None and entry.age(time.time()) > max_age:
            return None
        return entry

    async def _vector(self, plan: CachePlan) -> bytes | None:
        if plan.vector is None and self._embedder is not None and plan.query is not None:
            plan.vector = await asyncio.to_thread(_embedded, self._embedder, plan.query)
        return plan.vector

    async def keep(self, plan: CachePlan, entry: Entry) -> bool:
        """Store `entry` for `plan` (and index it, semantic): False if it is too large, or
        the store could not keep it."""
        encoded = entry.encode()
        if len(encoded) > self._max_entry_bytes:
            return False
        ttl = plan.spec.ttl_seconds
        if not await self.store.put(plan.scope, plan.key, encoded, ttl):
            return False
        if plan.partition is not None and await self._vector(plan) is not None:
            assert plan.vector is not None
            await self.store.add_vector(plan.scope, plan.partition, plan.key, plan.vector, ttl)
        return True


def _embedded(embedder: LocalEmbedder, text: str) -> bytes | None:
    """The text's vector; None for a text too long for the model (then: exact lookups)."""
    from app.errors import ProviderRefused

    try:
        embedding = embedder.plan({"input": text})
    except ProviderRefused:
        return None
    embedder.run(embedding, [0])
    return bytes(embedding.vectors[0].tobytes())
