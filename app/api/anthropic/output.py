"""What /v1/messages answers, in Anthropic's shapes: the message, and its stream of events.

An answer comes from chat completions: its text is a `text` block, each tool call a
`tool_use` block whose `input` is the call's arguments, parsed. A stream is `message_start`,
a `ping`, each block's `content_block_start`, deltas and `content_block_stop`, then
`message_delta` (the stop reason and the usage) and `message_stop`; cut short by a failure, it
ends with an `error` event instead, never `message_stop`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson

from app.errors import PlatformError
from app.http.error_responses import anthropic_body

#: chat completions' finish reason -> Anthropic's stop reason
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}  # fmt: skip


def message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def usage_of(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}  # fmt: skip


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's arguments as the object `tool_use.input` must be: a model that wrote
    something else has it kept whole, under `arguments`."""
    try:
        parsed = json.loads(arguments) if arguments else {}
    except json.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"arguments": arguments}


def message_body(
    id_: str, alias: str, content: list[dict[str, Any]], stop_reason: str | None,
    usage: dict[str, int],
) -> dict[str, Any]:  # fmt: skip
    return {"id": id_, "type": "message", "role": "assistant", "model": alias,
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": usage}  # fmt: skip


def whole_message(
    id_: str, alias: str, upstream: dict[str, Any], usage: dict[str, int]
) -> dict[str, Any]:
    choices = upstream.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("content"):
        content.append({"type": "text", "text": str(message["content"])})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex}",
                        "name": function.get("name") or "",
                        "input": tool_input(function.get("arguments") or "")})  # fmt: skip
    reason = STOP_REASONS.get(choice.get("finish_reason") or "stop", "end_turn")
    return message_body(id_, alias, content, reason, usage)


def _event(type_: str, **fields: Any) -> str:
    return f"event: {type_}\ndata: {orjson.dumps({'type': type_, **fields}).decode()}\n\n"


class MessageRelay:
    """A chat completion's chunks as the Messages API's events (a `Relay`)."""

    def __init__(self, id_: str, alias: str) -> None:
        self._id = id_
        self._alias = alias
        self._began = False
        self._block = -1  # the index of the block being written
        self._kind: str | None = None  # its type
        self._tools: dict[int, int] = {}  # a chunk's tool call index -> its block's index
        self._stop_reason = "end_turn"

    def _beginning(self) -> list[str]:
        if self._began:
            return []
        self._began = True
        message = message_body(self._id, self._alias, [], None, usage_of(0, 0))
        return [_event("message_start", message=message), _event("ping")]

    def frames(self, chunk: dict[str, Any]) -> list[str]:
        frames: list[str] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self._kind != "text":
                    frames += self._started({"type": "text", "text": ""})
                frames.append(self._delta({"type": "text_delta", "text": str(delta["content"])}))
            for call in delta.get("tool_calls") or ():
                frames += self._tool_call(call)
            reason = choice.get("finish_reason")
            if reason:
                self._stop_reason = STOP_REASONS.get(reason, "end_turn")
        return [*self._beginning(), *frames] if frames else []

    def _tool_call(self, call: dict[str, Any]) -> list[str]:
        frames = []
        function = call.get("function") or {}
        index = call.get("index", 0)
        if self._tools.get(index) != self._block or self._kind != "tool_use":
            block = {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex}",
                     "name": function.get("name") or "", "input": {}}  # fmt: skip
            frames += self._started(block)
            self._tools[index] = self._block
        if function.get("arguments"):
            frames.append(self._delta({"type": "input_json_delta",
                                       "partial_json": function["arguments"]}))  # fmt: skip
        return frames

    def _started(self, block: dict[str, Any]) -> list[str]:
        frames = self._stopped()
        self._block += 1
        self._kind = block["type"]
        return [*frames, _event("content_block_start", index=self._block, content_block=block)]

    def _delta(self, delta: dict[str, Any]) -> str:
        return _event("content_block_delta", index=self._block, delta=delta)

    def _stopped(self) -> list[str]:
        if self._kind is None:
            return []
        self._kind = None
        return [_event("content_block_stop", index=self._block)]

    async def closing(self, input_tokens: int, output_tokens: int) -> list[str]:
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        usage = usage_of(input_tokens, output_tokens)
        ending = [_event("message_delta", delta=delta, usage=usage), _event("message_stop")]
        return [*self._beginning(), *self._stopped(), *ending]

    async def failing(self, error: PlatformError) -> list[str]:
        error.message = f"{error.message} The answer is incomplete."
        body = anthropic_body(error)
        return [*self._beginning(), _event("error", error=body["error"])]
