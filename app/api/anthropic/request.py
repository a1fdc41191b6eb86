"""What /v1/messages accepts (Anthropic's Messages API), and its translation onto chat
completions.

Blocks are typed strictly, so an unknown block type is a 400 naming it, and a `tool_result`
must answer a `tool_use` the conversation made. The translation keeps all that both sides
express: `system` becomes the system message, `tool_use` blocks an assistant message's tool
calls, `tool_result` blocks tool messages, images image parts (a tool result's images, which a
tool message cannot hold, in the user message that follows it). `top_k` has no counterpart in
chat completions and is accepted but not sent.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    model_validator,
)

from app.api.openai.protocol import Count
from app.errors import BadRequest


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cache_control: dict[str, Any] | None = None  # a hint to Anthropic's cache; none here


class TextBlock(_Strict):
    type: Literal["text"]
    text: StrictStr
    citations: list[Any] | None = None


class ImageSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["base64", "url"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"] | None = None
    data: StrictStr | None = None
    url: StrictStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> ImageSource:
        if self.type == "base64" and not (self.media_type and self.data):
            raise ValueError("a base64 image needs media_type and data")
        if self.type == "url" and not self.url:
            raise ValueError("a url image needs url")
        return self

    def url_of(self) -> str:
        return self.url or f"data:{self.media_type};base64,{self.data}"


class ImageBlock(_Strict):
    type: Literal["image"]
    source: ImageSource


class ToolUseBlock(_Strict):
    type: Literal["tool_use"]
    id: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    input: dict[str, Any]


class ToolResultBlock(_Strict):
    type: Literal["tool_result"]
    tool_use_id: StrictStr = Field(min_length=1)
    content: (
        StrictStr | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]]
    ) = ""  # fmt: skip
    is_error: StrictBool = False

    def text(self) -> str:
        text = self.content if isinstance(self.content, str) else "".join(
            block.text for block in self.content if isinstance(block, TextBlock)
        )  # fmt: skip
        return f"Error: {text}" if self.is_error else text

    def images(self) -> list[ImageBlock]:
        return [] if isinstance(self.content, str) else [
            block for block in self.content if isinstance(block, ImageBlock)
        ]  # fmt: skip


Block = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")
]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: StrictStr | list[Block]

    def blocks(self) -> list[Block]:
        if isinstance(self.content, str):
            return [TextBlock(type="text", text=self.content)]
        return self.content


class Tool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["custom"] | None = None
    name: StrictStr = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: StrictStr | None = None
    input_schema: dict[str, Any]
    cache_control: dict[str, Any] | None = None


class ToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["auto", "any", "tool", "none"]
    name: StrictStr | None = None
    disable_parallel_tool_use: StrictBool | None = None

    @model_validator(mode="after")
    def _named(self) -> ToolChoice:
        if self.type == "tool" and not self.name:
            raise ValueError("type 'tool' needs the tool's name")
        return self


class Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: StrictStr | None = None


class OutputFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(BaseModel):
    """Structured output: the answer held to a JSON schema (by the embedded model's grammar;
    other providers as they do). `effort` is accepted; the platform's models do not think."""

    model_config = ConfigDict(extra="forbid")

    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: OutputFormat | None = None


class CountTokensRequest(BaseModel):
    """What /v1/messages/count_tokens reads: a request's prompt, without its sampling."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    system: StrictStr | list[TextBlock] | None = None
    tools: list[Tool] = Field(default_factory=list)
    tool_choice: ToolChoice | None = None
    thinking: dict[str, Any] | None = None  # accepted; the platform's models do not think

    def chat_tools(self) -> list[dict[str, Any]]:
        """The tools offered, as chat completions defines them; none if `tool_choice` is
        none."""
        if self.tool_choice and self.tool_choice.type == "none":
            return []
        return [
            {"type": "function", "function": {"name": tool.name,
             "description": tool.description or "", "parameters": tool.input_schema}}
            for tool in self.tools
        ]  # fmt: skip

    def chat_messages(self) -> list[dict[str, Any]]:
        """The conversation as chat messages (module doc)."""
        messages: list[dict[str, Any]] = []
        if self.system:
            system = self.system if isinstance(self.system, str) else "".join(
                block.text for block in self.system
            )  # fmt: skip
            messages.append({"role": "system", "content": system})
        used: set[str] = set()
        for index, message in enumerate(self.messages):
            if message.role == "assistant":
                messages.append(_assistant(message.blocks(), used))
            else:
                messages += _user(message.blocks(), used, index)
        return messages


def _assistant(blocks: list[Block], used: set[str]) -> dict[str, Any]:
    text = "".join(block.text for block in blocks if isinstance(block, TextBlock))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = [block for block in blocks if isinstance(block, ToolUseBlock)]
    if calls:
        used.update(call.id for call in calls)
        message["tool_calls"] = [
            {"id": call.id, "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.input)}}
            for call in calls
        ]  # fmt: skip
    return message


def _user(blocks: list[Block], used: set[str], index: int) -> list[dict[str, Any]]:
    """A user turn: its tool results as tool messages (first, as they answer the turn
    before), then its text and images as one user message."""
    messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for at, block in enumerate(blocks):
        if isinstance(block, ToolResultBlock):
            if block.tool_use_id not in used:
                raise BadRequest(
                    f"messages.{index}.content.{at}.tool_use_id: no tool_use block with id "
                    f"'{block.tool_use_id}' precedes this tool_result; send the assistant "
                    "turn that called it.",
                    param=f"messages.{index}.content.{at}.tool_use_id", code="unknown_tool_use",
                )  # fmt: skip
            messages.append({"role": "tool", "tool_call_id": block.tool_use_id,
                             "content": block.text()})  # fmt: skip
            if images := block.images():  # a tool message holds text only: they follow it
                parts.append(
                    {"type": "text", "text": f"The images tool call {block.tool_use_id} returned:"}
                )
                parts += [_image_part(image) for image in images]  # fmt: skip
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(_image_part(block))
        else:
            raise BadRequest(
                f"messages.{index}.content.{at}: a tool_use block belongs to an assistant turn.",
                param=f"messages.{index}.content.{at}.type", code="invalid_block",
            )  # fmt: skip
    if parts:
        only_text = all(part["type"] == "text" for part in parts)
        content = "".join(part["text"] for part in parts) if only_text else parts
        messages.append({"role": "user", "content": content})
    return messages


def _image_part(block: ImageBlock) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": block.source.url_of()}}


class MessagesRequest(CountTokensRequest):
    max_tokens: Count
    stop_sequences: list[StrictStr] | None = Field(None, max_length=16)
    temperature: StrictFloat | None = Field(None, ge=0, le=1)
    top_p: StrictFloat | None = Field(None, ge=0, le=1)
    top_k: Annotated[int, Field(ge=0, strict=True)] | None = None
    metadata: Metadata | None = None
    stream: StrictBool = False
    output_config: OutputConfig | None = None
    # Accepted, not translated: chat completions has no such setting, or it changes nothing.
    service_tier: StrictStr | None = None
    cache_control: dict[str, Any] | None = None
    container: StrictStr | dict[str, Any] | None = None
    diagnostics: dict[str, Any] | None = None
    inference_geo: StrictStr | None = None
    speed: StrictStr | None = None
    user_profile_id: StrictStr | None = None
    workspace_id: StrictStr | None = None

    def chat_options(self) -> dict[str, Any]:
        """The request's parameters as chat completions names them."""
        options: dict[str, Any] = {}
        for key, value in (("stop", self.stop_sequences), ("temperature", self.temperature),
                           ("top_p", self.top_p)):  # fmt: skip
            if value is not None:
                options[key] = value
        if self.metadata and self.metadata.user_id:
            options["user"] = self.metadata.user_id
        if self.output_config and self.output_config.format:
            schema = {"name": "output", "schema": self.output_config.format.schema_}
            options["response_format"] = {"type": "json_schema", "json_schema": schema}
        choice = self.tool_choice
        tools = self.chat_tools()
        if tools:
            options["tools"] = tools
            if choice is not None:
                options["tool_choice"] = (
                    {"type": "function", "function": {"name": choice.name}}
                    if choice.type == "tool"
                    else {"auto": "auto", "any": "required"}[choice.type]
                )  # fmt: skip
                if choice.disable_parallel_tool_use:
                    options["parallel_tool_calls"] = False
        return options
