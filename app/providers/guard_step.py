"""Guardrails on the dispatcher's one path, for every route, dialect and chain: a call's body
as its provider may see it, and its answer, whole or streamed, as its client may.

The texts of a body are where a prompt's words are in OpenAI's protocol (every dialect is
translated onto it, and a chain's prompt arrives in it): a message's content and its parts, a
tool call's arguments and a tool's result, a completion's prompt, an embedding's input. A
tool call's arguments are read as JSON where they are JSON, so an escaped value is found too.
An answer's are its messages' content and tool-call arguments, or its completions' text.
Each text is named where it is (`messages[2].content`), for a refusal.

The step sits outside the answer cache: what is cached is what the provider saw and said,
placeholders and all, and each request gets its own originals back.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from app.guardrails import Guard, TextStream, rules_for
from app.providers.accounting import CallAccount
from app.providers.answers import Answer, Chunk, ChunkStream
from app.providers.calls import Usage
from app.settings import ModelSpec

Rewrite = Callable[[str, str], str]  # (text, where it is) -> the text to use
#: Bodies with more text than this are scanned on a worker thread, beside the event loop.
_OFF_LOOP_CHARS = 64 * 1024


def _json_texts(text: str, where: str, rewrite: Rewrite) -> str:
    """A tool call's arguments: its JSON's strings one by one, or the text if not JSON."""
    try:
        value = json.loads(text)
    except ValueError:
        return rewrite(text, where)
    changed = _strings(value, where, rewrite)
    return text if changed is value else json.dumps(changed, ensure_ascii=False)


def _strings(value: Any, where: str, rewrite: Rewrite) -> Any:
    if isinstance(value, str):
        return rewrite(value, where)
    if isinstance(value, dict):
        new = {key: _strings(item, f"{where}.{key}", rewrite) for key, item in value.items()}
        return value if all(new[key] is value[key] for key in value) else new
    if isinstance(value, list):
        items = [_strings(item, f"{where}[{place}]", rewrite) for place, item in enumerate(value)]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _message(message: Any, where: str, rewrite: Rewrite) -> Any:
    if not isinstance(message, dict):
        return message
    new = dict(message)
    if "content" in message:
        new["content"] = _texts_or_list(message["content"], f"{where}.content", rewrite)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        new["tool_calls"] = [_tool_call(call, f"{where}.tool_calls[{place}]", rewrite)
                             for place, call in enumerate(calls)]  # fmt: skip
    return new


def _tool_call(call: Any, where: str, rewrite: Rewrite) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    arguments = _json_texts(function["arguments"], f"{where}.function.arguments", rewrite)
    return {**call, "function": {**function, "arguments": arguments}}


def _text_or_part(value: Any, where: str, rewrite: Rewrite) -> Any:
    """A text, or a part of a multimodal input (`{"type": "text", "text": ...}`)."""
    if isinstance(value, str):
        return rewrite(value, where)
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return {**value, "text": rewrite(value["text"], f"{where}.text")}
    return value


def _texts_or_list(value: Any, where: str, rewrite: Rewrite) -> Any:
    if isinstance(value, list):
        return [_text_or_part(item, f"{where}[{place}]", rewrite)
                for place, item in enumerate(value)]  # fmt: skip
    return _text_or_part(value, where, rewrite)


def rewrite_body(body: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    """`body` with each of its prompt's texts rewritten (module doc)."""
    new = dict(body)
    if isinstance(body.get("messages"), list):
        new["messages"] = [_message(message, f"messages[{place}]", rewrite)
                           for place, message in enumerate(body["messages"])]  # fmt: skip
    for name in ("prompt", "input", "suffix"):
        if name in body:
            new[name] = _texts_or_list(body[name], name, rewrite)
    return new


def texts_of(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The body's texts, each with where it is."""
    found: list[tuple[str, str]] = []

    def read(text: str, where: str) -> str:
        found.append((text, where))
        return text

    rewrite_body(body, read)
    return found


def rewrite_answer(data: Mapping[str, Any], rewrite: Rewrite) -> dict[str, Any]:
    """An answer's data with each choice's texts rewritten."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        return dict(data)
    new_choices = []
    for place, choice in enumerate(choices):
        if not isinstance(choice, dict):
            new_choices.append(choice)
            continue
        choice = dict(choice)
        if isinstance(choice.get("text"), str):
            choice["text"] = rewrite(choice["text"], f"choices[{place}].text")
        if isinstance(choice.get("message"), dict):
            choice["message"] = _message(choice["message"], f"choices[{place}].message", rewrite)
        new_choices.append(choice)
    return {**data, "choices": new_choices}


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
