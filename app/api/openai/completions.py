"""/v1/chat/completions and /v1/completions as `Translation`s: OpenAI's own protocol, sent on
nearly as it came and rebuilt in OpenAI's shape on the way back (protocol.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from app.api.openai.protocol import (
    ChatCompletionRequest,
    CompletionRequest,
    StreamOptions,
    chat_completion,
    new_id,
    text_choices,
    text_completion,
    usage_body,
)
from app.errors import PlatformError
from app.providers import Prompt, prompt_of
from app.streams.kept import StreamOptions as KeptStreamOptions


def sse(data: dict[str, Any]) -> str:
    return f"data: {orjson.dumps(data).decode()}\n\n"


@dataclass(frozen=True)
class Dialect:
    """What differs between /v1/chat/completions and /v1/completions."""

    route: str
    endpoint: str
    request: type[ChatCompletionRequest] | type[CompletionRequest]
    chunk_object: str
    id_prefix: str
    whole: Callable[[dict[str, Any], str, dict[str, int]], dict[str, Any]]
    relay: type[ChunkRelay]


class OpenAICall:
    """A chat completion or completion request (a `Translation`)."""

    max_tokens_field = "max_tokens"
    hosted = None  # chat completions has no hosted tools

    def __init__(self, dialect: Dialect, body: ChatCompletionRequest | CompletionRequest) -> None:
        self._dialect = dialect
        self._body = body
        self._sent = body.model_dump(exclude_none=True, by_alias=True)
        self.route = dialect.route
        self.endpoint = dialect.endpoint
        self.alias = body.model
        self.stream = body.stream
        self.requested_max_tokens = body.requested_max_tokens
        self.generations = body.generations

    def prompt(self) -> Prompt:
        return prompt_of(self.endpoint, self._sent)  # the one rule, on what is sent

    def payload(self, max_tokens: int) -> dict[str, Any]:
        payload = dict(self._sent)
        if self.requested_max_tokens is None:
            payload["max_tokens"] = max_tokens  # the bound the reservation was made for
        if self.stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    async def whole(
        self, upstream: dict[str, Any], input_tokens: int, output_tokens: int
    ) -> dict[str, Any]:
        return self._dialect.whole(upstream, self.alias, usage_body(input_tokens, output_tokens))

    def new_id(self) -> str:
        return new_id(self._dialect.id_prefix)

    def relay(self, id_: str) -> ChunkRelay:
        return self._dialect.relay(self._dialect, self.alias, id_, self._body.include_usage)

    def kept(self) -> KeptStreamOptions:
        given: StreamOptions | None = self._body.stream_options
        if given is None:
            return KeptStreamOptions()
        return KeptStreamOptions(given.resumable, given.on_disconnect)


class ChunkRelay:
    """OpenAI's chunks; the usage chunk if asked for, then `[DONE]`. A failure is an error
    chunk and no `[DONE]`. Each dialect shapes its chunks' choices (`frames`, run per chunk)."""

    def __init__(self, dialect: Dialect, alias: str, id_: str, include_usage: bool) -> None:
        self._include_usage = include_usage
        self._head: dict[str, Any] = {
            "id": id_, "object": dialect.chunk_object, "created": int(time.time()), "model": alias
        }  # fmt: skip

    def frames(self, chunk: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def _frame(self, choices: list[dict[str, Any]]) -> list[str]:
        if not choices:
            return []
        self._head["choices"] = choices
        return [sse(self._head)]

    async def closing(self, input_tokens: int, output_tokens: int) -> list[str]:
        frames = []
        if self._include_usage:
            usage = usage_body(input_tokens, output_tokens)
            frames.append(sse({**self._head, "choices": [], "usage": usage}))
        return [*frames, "data: [DONE]\n\n"]

    async def failing(self, error: PlatformError) -> list[str]:
        error.message = f"{error.message} The answer is incomplete."
        return [sse(error.body())]


class ChatChunkRelay(ChunkRelay):
    def frames(self, chunk: dict[str, Any]) -> list[str]:
        """A chat chunk's choices, their deltas held to OpenAI's fields."""
        choices = []
        for index, choice in enumerate(chunk.get("choices") or []):
            given, delta = choice.get("delta") or {}, {}
            for key in _DELTA_FIELDS:  # a loop, not a comprehension: no call per chunk
                if given.get(key) is not None:
                    delta[key] = given[key]
            choices.append({"index": choice.get("index", index), "delta": delta,
                            "logprobs": choice.get("logprobs"),
                            "finish_reason": choice.get("finish_reason")})  # fmt: skip
        if not choices:
            return []
        self._head["choices"] = choices
        return [f"data: {orjson.dumps(self._head).decode()}\n\n"]  # _frame, inline: per chunk


class TextChunkRelay(ChunkRelay):
    def frames(self, chunk: dict[str, Any]) -> list[str]:
        return self._frame(text_choices(chunk))


_DELTA_FIELDS = ("role", "content", "tool_calls", "refusal")


CHAT = Dialect(
    route="v1/chat/completions",
    endpoint="chat/completions",
    request=ChatCompletionRequest,
    chunk_object="chat.completion.chunk",
    id_prefix="chatcmpl",
    whole=chat_completion,
    relay=ChatChunkRelay,
)
COMPLETION = Dialect(
    route="v1/completions",
    endpoint="completions",
    request=CompletionRequest,
    chunk_object="text_completion",
    id_prefix="cmpl",
    whole=text_completion,
    relay=TextChunkRelay,
)
