"""What every provider call is charged to: its request's account, handed down explicitly.

The layer that holds a request's bill (app/usage) opens the request's account at admission and
passes it down: /v1 as an argument of the dispatcher's calls; a chain through its run's config,
whose callbacks hold the request's meter (`AccountHolder`), so a chat model of the platform
finds the account there (`account_in`, alias_model.py). The providers write into it what each
call to a deployment did and which streams are still open; the bill's holder reads it when the
request ends. Nothing here calls back up.

A chat model whose run's config holds no open account is refused: no route, batch item or
chain step can reach a model unmetered, and forgetting the meter is a loud failure, not free
usage.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.cache import NO_DIRECTIVES, CacheDirectives, status_headers
from app.providers.calls import UpstreamCall
from app.settings import GuardrailPolicy


class Closable(Protocol):
    def close(self) -> None: ...


@dataclass(eq=False)
class CallAccount:
    """An admitted request's model calls as the providers see them: the calls made to
    deployments, and the upstream streams to close when the request ends (should their readers
    never close them)."""

    tenant_id: str
    request_id: str  # the platform's id of the request the call is part of
    background: bool = False  # a batch's line: it waits behind interactive calls
    calls: list[UpstreamCall] = field(default_factory=list)
    held: list[Closable] = field(default_factory=list)
    closed: bool = False  # its request ended: nothing more is charged to it
    #: What the request asks of the answer cache (its Cache-Control, its tenant's setting).
    cache: CacheDirectives = NO_DIRECTIVES
    #: What the cache did for its cacheable calls, in RFC 9211's terms (`hit`,
    #: `fwd=miss; stored`...): `hit` if it answered every one, else what it did for the first
    #: it did not; and the age of the entry a hit used, in seconds.
    cache_status: str | None = None
    cache_age: float | None = None
    #: Calls still at work for it after its reader left (a call others share): its row
    #: waits for them, so it counts all they did.
    owed: list[asyncio.Task[Any]] = field(default_factory=list)
    #: Its client's own guardrail policy (its key's over its tenant's), and what the
    #: guardrails did, by `direction.category.action` (never with a value).
    guardrails: GuardrailPolicy | None = None
    guard_counts: Counter[str] = field(default_factory=Counter)

    def record(self, call: UpstreamCall) -> None:
        self.calls.append(call)

    def note_cache(self, status: str, age: float | None = None) -> None:
        if self.cache_status is None or self.cache_status == "hit":
            self.cache_status = status
            self.cache_age = age if status == "hit" else None

    def cache_headers(self) -> dict[str, str]:
        """What the cache did, for the response's headers (`Cache-Status`, `Age`)."""
        if self.cache_status is None:
            return {}
        return status_headers(self.cache_status, self.cache_age)

    def owe(self, work: asyncio.Task[Any]) -> None:
        self.owed.append(work)

    async def settled(self) -> None:
        """Once the calls it owes have ended."""
        if self.owed:
            await asyncio.wait(self.owed)

    def hold(self, resource: Closable) -> None:
        self.held.append(resource)

    def close_held(self) -> None:
        for resource in self.held:
            resource.close()


class AccountHolder:
    """What holds a request's account among a run's callbacks (the request's meter's
    adapter)."""

    def __init__(self, account: CallAccount) -> None:
        self.account = account
