"""Continuing a streamed chat answer on the next deployment when one cuts it short.

Once a stream's first content has reached the client, a deployment's failure can no longer be
hidden by asking another one from scratch. For the failures of the deployment rather than of
the request (the connection cut, a stall past its deadline, a malformed chunk, an end without a
finish), a `ContinuedStream` asks the next deployment to go on from where the answer stopped:
the conversation with the partial answer, then either an instruction to continue or the partial
answer as the assistant's prefix (the deployment's `continuation`). The rest of the answer
streams on as if from one deployment: the continuation's opening role chunk is dropped. With no
deployment left, or if the next one fails too, the first failure is raised as before. An answer
that had begun a tool call is not continued: only text can be handed on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.errors import PlatformError, ProviderError
from app.providers.answers import Chunk, EventStream, has_content
from app.providers.calls import Usage

#: Failures of the deployment mid-answer that another deployment can make good.
CONTINUABLE = frozenset(
    {"provider_cut", "provider_timeout", "provider_malformed", "provider_incomplete"}
)

CONTINUE_INSTRUCTION = (
    "Your previous answer was cut off. Continue it from exactly where it stops: do not repeat "
    "any of it, and write nothing before the continuation."
)


@dataclass(frozen=True)
class Partial:
    """What an answer had produced when its deployment failed."""

    text: str
    chunks: int  # content chunks: about one token each


def continuation_body(body: Mapping[str, Any], partial: Partial, mode: str) -> dict[str, Any]:
    """The chat request that asks a deployment to continue `partial` (see the module doc)."""
    messages = list(body.get("messages") or [])
    if mode == "prefix":
        messages.append({"role": "assistant", "content": partial.text, "prefix": True})
    else:
        messages.append({"role": "assistant", "content": partial.text})
        messages.append({"role": "user", "content": CONTINUE_INSTRUCTION})
    continued = {**body, "messages": messages}
    for key in ("max_tokens", "max_completion_tokens"):  # the answer's limit, not each part's
        limit = continued.get(key)
        if isinstance(limit, int):
            continued[key] = max(1, limit - partial.chunks)
    return continued


class Continuing(Protocol):
    """The way a call took through its deployments (failover.py's `Route`), able to go on."""

    async def continued(self, partial: Partial) -> EventStream: ...


class ContinuedStream:
    """An answer's chunks from its deployment and, should it fail mid-answer, from the next
    ones its route has not tried (module doc). It reads and closes like an `EventStream`."""

    def __init__(self, first: EventStream, route: Continuing) -> None:
        self._legs = [first]
        self._route = route
        self.upstream_seconds = first.upstream_seconds

    @property
    def usage(self) -> Usage | None:
        """The usage of every part, if every deployment reported its own."""
        usages = [leg.usage for leg in self._legs]
        if any(usage is None for usage in usages):
            return None
        return Usage(
            sum(usage.input_tokens for usage in usages if usage),
            sum(usage.output_tokens for usage in usages if usage),
        )

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        text: list[str] = []
        chunks = 0
        tool_calls = False
        while True:
            current = self._legs[-1]
            try:
                async for chunk in current:
                    if len(self._legs) > 1 and not has_content(chunk):
                        continue  # the continuation's role chunk: the answer already began
                    chunks += has_content(chunk)
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        tool_calls = tool_calls or bool(delta.get("tool_calls"))
                        if isinstance(delta.get("content"), str):
                            text.append(delta["content"])
                    yield chunk
                return
            except ProviderError as error:
                if error.code not in CONTINUABLE or tool_calls:
                    raise
                current.close()
                try:
                    stream = await self._route.continued(Partial("".join(text), chunks))
                except PlatformError:
                    raise error from None  # nobody could continue: the honest error
                self._legs.append(stream)

    def close(self) -> None:
        for leg in self._legs:
            leg.close()

    async def __aenter__(self) -> ContinuedStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()
