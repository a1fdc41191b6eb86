"""Reading what a provider answers, for /v1 and the chains alike: the one parser.

- A whole answer must be a JSON object with a `choices` list (`data` for embeddings and
  images): a proxy's HTML error page with status 200 is a failure of the deployment, not an
  answer.
- An event stream is complete only when the provider says so: `data: [DONE]`, or a
  `finish_reason` for every choice it began. Anything else (the connection cut, a stall, a
  chunk that is not a JSON object, an error chunk, an end without either) raises a
  `ProviderError`: a truncated answer is never passed off as a whole one.
- `usage_of` reads token usage, wherever a provider reports it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson

from app.errors import ProviderError
from app.providers.calls import UpstreamCall, Usage
from app.providers.failures import TRANSPORT_ERRORS, malformed, stream_failure

Chunk = dict[str, Any]


#: Where an endpoint's answer holds its items, when not in `choices`.
ANSWER_ITEMS = {"embeddings": "data", "moderations": "results", "images/generations": "data",
                "images/edits": "data"}  # fmt: skip


def usage_of(data: Chunk) -> Usage | None:
    """The usage an answer or chunk reports, if it reports the tokens it generated (for an
    embeddings answer, which generates none: its prompt tokens, which are its total)."""
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt_tokens = usage.get("prompt_tokens")
    prompt_tokens = prompt_tokens if isinstance(prompt_tokens, int) else None
    if isinstance(usage.get("completion_tokens"), int):
        return Usage(prompt_tokens or 0, usage["completion_tokens"])
    if prompt_tokens is not None and usage.get("total_tokens") == prompt_tokens:
        return Usage(prompt_tokens, 0)
    return None


@dataclass(frozen=True)
class Answer:
    """A whole (not streamed) answer, checked."""

    data: Chunk
    usage: Usage | None
    upstream_seconds: float


def within(items: list[Any], asked: int | None) -> list[Any]:
    """The items an answer may hold: those within what was asked (by their `index`, or their
    place). A provider that ignores `n` (or honours a parameter that multiplies it) is not
    relayed or billed past what the request reserved."""
    if asked is None:
        return items
    kept = []
    for place, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        index = item.get("index", place)
        if (index if isinstance(index, int) else place) < asked:
            kept.append(item)
    return kept


def parse_answer(raw: bytes, upstream_seconds: float, endpoint: str, asked: int | None) -> Answer:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise malformed("an answer that is not JSON") from None
    items = ANSWER_ITEMS.get(endpoint, "choices")
    if not isinstance(data, dict) or not isinstance(data.get(items), list):
        raise malformed(f"an answer without {items}")
    if not all(isinstance(item, dict) for item in data[items]):
        raise malformed(f"an answer whose {items} are not objects")
    data[items] = within(data[items], asked)
    return Answer(data, usage_of(data), upstream_seconds)


def has_content(chunk: Chunk) -> bool:
    """Does this chunk carry part of the answer (or its end), not just the role?"""
    for choice in chunk.get("choices") or []:
        if choice.get("finish_reason") or choice.get("text"):
            return True
        delta = choice.get("delta") or {}
        for key in ("content", "tool_calls", "refusal", "function_call"):
            if delta.get(key):
                return True
    return False


async def _replay(chunks: list[Chunk]) -> AsyncIterator[Chunk]:
    while chunks:
        yield chunks.pop(0)


class ChunkStream(Protocol):
    """An answer's checked chunks, as the routes read them: an `EventStream`, or one continued
    on further deployments (continuation.py)."""

    upstream_seconds: float

    @property
    def usage(self) -> Usage | None: ...

    def __aiter__(self) -> AsyncIterator[Chunk]: ...

    def close(self) -> None: ...

    async def __aenter__(self) -> ChunkStream: ...

    async def __aexit__(self, *_: object) -> None: ...


def _failed_mid_answer(detail: Any) -> ProviderError:
    message = detail.get("message") if isinstance(detail, dict) else detail
    return ProviderError(
        f"The model provider failed mid-answer: {message}.", code="provider_failed"
    )


class EventStream:
    """The chunks of one provider's event stream, checked as they arrive (see the module doc).

    Close it (or use `async with`): closing an unfinished stream drops the connection, which
    ends the upstream request, and runs the `when_closed` callbacks (a queue's turn), once.
    What arrives is noted on its `call` as it is read, for the ledger.
    """

    def __init__(
        self, response: aiohttp.ClientResponse, call: UpstreamCall, asked: int | None,
        lines: AsyncIterator[bytes] | None = None,
    ) -> None:  # fmt: skip
        self._response = response
        #: The stream's lines in chat completions' protocol (a provider's own, translated).
        self._source = lines if lines is not None else response.content
        self.call = call
        self._asked = asked
        self._on_close: list[Callable[[], None]] = []
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._done = False
        self._buffered: list[Chunk] = []
        self._opening = False
        self._ended = False
        self._closed = False
        self._lines = self._chunks()
        self.usage: Usage | None = None
        self.started = time.perf_counter()
        self.upstream_seconds = 0.0  # until the first content arrived

    async def first_content(self) -> None:
        """Read until the answer's first content (kept for the reader): until then, a failure
        can still go to the next deployment, as nothing reached the client."""
        self._opening = True
        async for chunk in self._lines:
            self._buffered.append(chunk)
            if has_content(chunk):
                break
        self._opening = False
        self.upstream_seconds = time.perf_counter() - self.started

    def __aiter__(self) -> AsyncIterator[Chunk]:
        if self._ended:  # it ended before its first content: what it sent, then nothing
            return _replay(self._buffered)
        return self._lines

    async def _chunks(self) -> AsyncIterator[Chunk]:
        """The checked chunks (one loop: it runs per chunk); once `first_content` has read its
        own, the reader is given those first. Each chunk's choices are held to those asked
        for, what they generated is kept on the call (counted by `texts_of`), and its
        usage if it reports one."""
        asked, generated = self._asked, self.call.choices
        try:
            async for line in self._source:
                if not line.startswith(b"data:"):
                    continue  # comments, event names, ids, blank lines
                data = line[5:].strip()
                if data == b"[DONE]":
                    self._done = True
                    return
                try:
                    chunk = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise malformed("a stream chunk that is not JSON") from None
                if not isinstance(chunk, dict):
                    raise malformed("a stream chunk that is not a JSON object")
                if chunk.get("error"):
                    raise _failed_mid_answer(chunk["error"])
                choices = chunk.get("choices") or []
                if not isinstance(choices, list):
                    raise malformed("a stream chunk whose choices are not objects")
                beyond = False
                for position, choice in enumerate(choices):
                    if not isinstance(choice, dict):
                        raise malformed("a stream chunk whose choices are not objects")
                    index = choice.get("index", position)
                    if not isinstance(index, int):
                        index = position
                    if asked is not None and index >= asked:
                        beyond = True  # neither relayed nor billed (`within`)
                        continue
                    self._started.add(index)
                    if choice.get("finish_reason"):
                        self._finished.add(index)
                    generated.append(choice)
                if beyond:
                    chunk["choices"] = within(choices, asked)
                if chunk.get("usage") is not None:
                    usage = usage_of(chunk)
                    if usage is not None:
                        self.usage = self.call.usage = usage
                yield chunk
                while self._buffered and not self._opening:
                    yield self._buffered.pop(0)
        except TRANSPORT_ERRORS as exc:
            raise stream_failure(exc) from exc
        finally:
            self._ended = True
        if not self._complete():
            raise ProviderError(
                "The model provider ended the stream before the answer was complete.",
                code="provider_incomplete",
            )

    def _complete(self) -> bool:
        return self._done or (bool(self._finished) and self._started <= self._finished)

    def when_closed(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    def close(self) -> None:
        """Done with the stream (synchronous: a cancelled task cannot interrupt it)."""
        if self._closed:
            return
        self._closed = True
        self._response.close()
        for callback in self._on_close:
            callback()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()
