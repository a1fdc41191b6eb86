"""Guardrails on the dispatcher's one path, for every route, dialect and chain: a call's body
as its provider may see it, and its answer, whole or streamed, as its client may.

The texts are read where body_texts.py finds them, each named where it is
(`messages[2].content`), for a refusal.

The step sits outside the answer cache: what is cached is what the provider saw and said,
placeholders and all, and each request gets its own originals back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

from app.guardrails import Guard, TextStream, rules_for
from app.providers.accounting import CallAccount
from app.providers.answers import Answer, Chunk, ChunkStream
from app.providers.body_texts import rewrite_answer, rewrite_body, texts_of
from app.providers.calls import Usage
from app.settings import ModelSpec

#: Bodies with more text than this are scanned on a worker thread, beside the event loop.
_OFF_LOOP_CHARS = 64 * 1024


class GuardStep:
    """Each alias's floor policy, and the guard of each call (module doc)."""

    def __init__(self, models: Mapping[str, ModelSpec]) -> None:
        self._floors = {alias: spec.guardrails for alias, spec in models.items()}

    async def request(
        self, alias: str, body: Mapping[str, Any], account: CallAccount
    ) -> tuple[Guard | None, Mapping[str, Any]]:
        """The call's guard (None: no rules apply) and its body as the provider may see it;
        a `BadRequest` naming what is blocked and where."""
        rules = rules_for(self._floors[alias], account.guardrails)
        if rules is None:
            return None, body
        texts = [text for text, _ in texts_of(body)]
        guard = Guard(rules, account.guard_counts, texts)
        if sum(map(len, texts)) > _OFF_LOOP_CHARS:
            return guard, await asyncio.to_thread(rewrite_body, body, guard.request_text)
        return guard, rewrite_body(body, guard.request_text)

    @staticmethod
    def answer(guard: Guard, answer: Answer) -> Answer:
        if not guard.scans_answers:
            return answer
        return Answer(rewrite_answer(answer.data, guard.answer_text), answer.usage,
                      answer.upstream_seconds)  # fmt: skip


class GuardedStream:
    """A stream whose texts reach the client through the call's guard, each choice's content
    and each tool call's arguments a `TextStream` of its own; what one holds back goes out
    with its choice's end."""

    def __init__(self, stream: ChunkStream, guard: Guard) -> None:
        self._stream = stream
        self._guard = guard
        self._channels: dict[tuple[int, str, int], TextStream] = {}

    @property
    def upstream_seconds(self) -> float:
        return self._stream.upstream_seconds

    @property
    def usage(self) -> Usage | None:
        return self._stream.usage

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        last: Chunk | None = None
        async for chunk in self._stream:
            last = chunk
            for place, choice in enumerate(chunk.get("choices") or []):
                self._pass(choice, place)
            yield chunk
        rest = self._rest()
        if rest and last is not None:  # a stream that ended with no choice's end: its rest
            yield {**last, "choices": rest, "usage": None}

    def _channel(self, index: int, kind: str, call: int, where: str) -> TextStream:
        channel = self._channels.get((index, kind, call))
        if channel is None:
            channel = self._channels[index, kind, call] = TextStream(self._guard, where)
        return channel

    def _pass(self, choice: dict[str, Any], place: int) -> None:
        index = choice.get("index", place)
        index = index if isinstance(index, int) else place
        ends = bool(choice.get("finish_reason"))
        if isinstance(choice.get("text"), str) or ("delta" not in choice and ends):
            channel = self._channel(index, "text", 0, f"choices[{index}].text")
            text = channel.feed(choice.get("text") or "")
            choice["text"] = text + channel.end() if ends else text
            return
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        if isinstance(delta.get("content"), str) or ends:
            channel = self._channel(index, "content", 0, f"choices[{index}].delta.content")
            text = channel.feed(delta.get("content") or "") + (channel.end() if ends else "")
            if text or "content" in delta:
                delta["content"] = text
        for call in delta.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                number = call.get("index", 0)
                where = f"choices[{index}].delta.tool_calls[{number}].function.arguments"
                function["arguments"] = self._channel(index, "tool", number, where).feed(
                    function["arguments"]
                )
        if ends:
            self._end_tool_calls(index, delta)

    def _end_tool_calls(self, index: int, delta: dict[str, Any]) -> None:
        ended = [(key[2], channel.end()) for key, channel in self._channels.items()
                 if key[0] == index and key[1] == "tool"]  # fmt: skip
        rests = [{"index": number, "function": {"arguments": rest}}
                 for number, rest in ended if rest]  # fmt: skip
        if rests:
            delta["tool_calls"] = [*(delta.get("tool_calls") or []), *rests]

    def _rest(self) -> list[dict[str, Any]]:
        """What each channel still holds, as choices' deltas."""
        rests: dict[int, dict[str, Any]] = {}
        for (index, kind, number), channel in self._channels.items():
            rest = channel.end()
            if not rest:
                continue
            delta = rests.setdefault(index, {})
            if kind == "tool":
                delta.setdefault("tool_calls", []).append(
                    {"index": number, "function": {"arguments": rest}}
                )
            else:
                delta[kind] = rest
        return [
            {"index": index, "text": delta["text"]} if "text" in delta
            else {"index": index, "delta": delta}
            for index, delta in rests.items()
        ]  # fmt: skip

    def close(self) -> None:
        self._stream.close()

    async def __aenter__(self) -> GuardedStream:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()
