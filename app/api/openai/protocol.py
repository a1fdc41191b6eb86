"""OpenAI's protocol for /v1, in one place: requests we accept, bodies and chunks we send.

Upstreams differ from OpenAI's schema (llama.cpp: no `created` on models, no `refusal` on
messages, nulls where objects are required), so every body is rebuilt here in OpenAI's shape
rather than forwarded as is.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]

# Values are typed strictly (no "0.5" for a number, no `true` for a count) and bounded as
# OpenAI bounds them: a value the provider would choke on is refused here, as the client's
# error, before it can reach (and count against) a shared deployment.
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
Count = Annotated[StrictInt, Field(ge=1)]
Penalty = Annotated[StrictFloat, Field(ge=-2, le=2)]
TokenId = Annotated[str, Field(pattern=r"^[0-9]{1,9}$")]
Bias = Annotated[StrictFloat, Field(ge=-100, le=100)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: StrictBool = False
    resumable: StrictBool = Field(
        False, description="Events carry ids; GET /v1/chat/completions/{id}/stream with "
        "Last-Event-ID resumes the stream on any replica (the platform's extension)."
    )  # fmt: skip
    on_disconnect: Literal["cancel", "continue"] | None = Field(
        None, description="When the client leaves: stop the answer, or let it finish (kept "
        "for resumption if resumable). Default: continue if resumable, else cancel."
    )  # fmt: skip


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: StrictStr = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(BaseModel):
    """`text`, `json_object`, or `json_schema` with its schema (the embedded model enforces it
    with a grammar; other providers as they do)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type 'json_schema' needs json_schema: {name, schema}")
        return self


class RequestMessage(BaseModel):
    """A message of a chat completion request."""

    model_config = ConfigDict(extra="allow")

    role: Role
    content: StrictStr | list[dict[str, Any]] | None = None


class _Sampling(BaseModel):
    """Parameters both endpoints share; unknown ones are passed on to the provider."""

    model_config = ConfigDict(extra="allow")

    model: StrictStr = Field(min_length=1)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    n: StrictInt = Field(1, ge=1, le=16)
    stop: StrictStr | list[StrictStr] | None = None
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | None = Field(None, ge=0, le=1)
    max_tokens: Count | None = None
    seed: Int64 | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[TokenId, Bias] | None = Field(
        None, description="Token ids (as strings) to a bias from -100 to 100."
    )
    user: StrictStr | None = None

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)

    @property
    def generations(self) -> int:
        """How many answers the provider generates for this body, each up to max_tokens: what
        the reservation multiplies max_tokens by (tests/api/test_cost_multipliers.py)."""
        return self.n


class ChatCompletionRequest(_Sampling):
    messages: list[RequestMessage] = Field(min_length=1)
    max_completion_tokens: Count | None = None
    response_format: ResponseFormat | None = None
    logprobs: StrictBool | None = None
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(_Sampling):
    prompt: StrictStr | list[StrictStr] = Field(min_length=1)
    logprobs: StrictInt | None = Field(None, ge=0, le=5)
    echo: StrictBool | None = None
    best_of: StrictInt | None = Field(
        None, ge=1, le=20, description="Answers generated per prompt, of which `n` are returned."
    )

    @field_validator("best_of")
    @classmethod
    def _best_of_covers_n(cls, best_of: int | None, info: ValidationInfo) -> int | None:
        if best_of is not None and best_of < info.data.get("n", 1):
            raise ValueError("best_of must be at least n (the answers n are drawn from)")
        return best_of

    @property
    def generations(self) -> int:
        """Every prompt of a list gets its own answers; `best_of` generates that many each."""
        prompts = len(self.prompt) if isinstance(self.prompt, list) else 1
        return prompts * max(self.n, self.best_of or 1)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens


def usage_body(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def chat_completion(upstream: dict[str, Any], alias: str, usage: dict[str, int]) -> dict[str, Any]:
    choices = []
    for index, choice in enumerate(upstream.get("choices") or []):
        given = choice.get("message") or {}
        message: dict[str, Any] = {
            "role": "assistant",
            "content": given.get("content"),
            "refusal": given.get("refusal"),
        }
        if given.get("tool_calls"):
            message["tool_calls"] = given["tool_calls"]
        choices.append(
            {
                "index": choice.get("index", index),
                "message": message,
                "logprobs": choice.get("logprobs"),
                "finish_reason": choice.get("finish_reason") or "stop",
            }
        )
    return {
        "id": upstream.get("id") or new_id("chatcmpl"),
        "object": "chat.completion",
        "created": upstream.get("created") or int(time.time()),
        "model": alias,
        "choices": choices,
        "usage": usage,
    }


def text_completion(upstream: dict[str, Any], alias: str, usage: dict[str, int]) -> dict[str, Any]:
    return {
        "id": upstream.get("id") or new_id("cmpl"),
        "object": "text_completion",
        "created": upstream.get("created") or int(time.time()),
        "model": alias,
        "choices": text_choices(upstream, final=True),
        "usage": usage,
    }


def text_choices(upstream: dict[str, Any], *, final: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "index": choice.get("index", index),
            "text": choice.get("text") or "",
            "logprobs": choice.get("logprobs"),
            "finish_reason": choice.get("finish_reason") or ("stop" if final else None),
        }
        for index, choice in enumerate(upstream.get("choices") or [])
    ]


def model_card(alias: str, created: int) -> dict[str, Any]:
    return {"id": alias, "object": "model", "created": created, "owned_by": "genai-platform"}
