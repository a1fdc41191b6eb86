"""What /v1/responses accepts, and its translation onto chat completions.

Input is a string or a list of items: messages (text and image parts), function calls and their
outputs. Every item and part is typed strictly, so an unknown type is a 400 naming it, and a
function call's output must answer a call the conversation made. The translation keeps all
that both sides express: instructions become the system message, a run of function calls one
assistant message with its tool calls, an output a tool message.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from app.api.openai.protocol import Count, JsonSchemaFormat
from app.api.openai.responses_mcp import McpCallItem, McpListToolsItem, McpTool, hosted_turn
from app.errors import BadRequest

Role = Literal["user", "assistant", "system", "developer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputText(_Strict):
    type: Literal["input_text", "output_text"]
    text: StrictStr
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None


class InputImage(_Strict):
    type: Literal["input_image"]
    image_url: StrictStr = Field(min_length=1, description="A URL or a data: URL.")
    detail: Literal["auto", "low", "high"] = "auto"
    file_id: None = None


Part = Annotated[InputText | InputImage, Field(discriminator="type")]


class MessageItem(_Strict):
    type: Literal["message"] = "message"
    role: Role
    content: list[Part] = Field(description="Typed parts, or a string: one text part.")
    id: StrictStr | None = None
    status: StrictStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _parts(cls, given: Any) -> Any:
        """A string content is its one text part (so an error names the part, not a union)."""
        if isinstance(given, dict) and isinstance(given.get("content"), str):
            kind = "output_text" if given.get("role") == "assistant" else "input_text"
            return {**given, "content": [{"type": kind, "text": given["content"]}]}
        return given

    def text(self) -> str:
        return "".join(part.text for part in self.content if isinstance(part, InputText))


class FunctionCallItem(_Strict):
    type: Literal["function_call"]
    call_id: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    arguments: StrictStr
    id: StrictStr | None = None
    status: StrictStr | None = None


class FunctionCallOutputItem(_Strict):
    type: Literal["function_call_output"]
    call_id: StrictStr = Field(min_length=1)
    output: StrictStr
    id: StrictStr | None = None
    status: StrictStr | None = None


Item = Annotated[
    MessageItem | FunctionCallItem | FunctionCallOutputItem | McpListToolsItem | McpCallItem,
    Field(discriminator="type"),
]


class FunctionTool(_Strict):
    type: Literal["function"]
    name: StrictStr = Field(min_length=1, max_length=64)
    description: StrictStr | None = None
    parameters: dict[str, Any] | None = None
    strict: StrictBool | None = None


Tool = Annotated[FunctionTool | McpTool, Field(discriminator="type")]


class NamedFunction(_Strict):
    type: Literal["function"]
    name: StrictStr


class TextFormat(BaseModel):
    """`text`, `json_object`, or `json_schema` with its schema (held to it by the embedded
    model's grammar; other providers as they do)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"]
    name: StrictStr | None = Field(None, min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    description: StrictStr | None = None
    strict: StrictBool | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> TextFormat:
        if self.type == "json_schema" and (self.name is None or self.schema_ is None):
            raise ValueError("type 'json_schema' needs a name and a schema")
        return self


class TextOptions(_Strict):
    format: TextFormat = Field(default_factory=lambda: TextFormat(type="text"))
    verbosity: Literal["low", "medium", "high"] | None = None


def _message_wrapped(given: Any) -> Any:
    """A message given without `type` (as the SDKs allow) is a message item."""
    if isinstance(given, dict) and "type" not in given and "role" in given:
        return {**given, "type": "message"}
    return given


class ResponseRequest(_Strict):
    model: StrictStr = Field(min_length=1)
    input: list[Item] = Field(description="Items, or a string: one user message.")
    instructions: StrictStr | None = None
    max_output_tokens: Count | None = None
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | None = Field(None, ge=0, le=1)
    tools: list[Tool] = Field(default_factory=list)
    tool_choice: Literal["auto", "none", "required"] | NamedFunction = "auto"
    parallel_tool_calls: StrictBool = True
    text: TextOptions = Field(default_factory=TextOptions)
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict, max_length=16)
    stream: StrictBool = False
    store: StrictBool = True
    previous_response_id: StrictStr | None = None
    user: StrictStr | None = None
    truncation: Literal["disabled"] = "disabled"
    include: list[StrictStr] | None = None
    background: StrictBool | None = Field(
        None, description="Answer at once with the response queued, and answer it in the "
        "background: poll it with GET /v1/responses/{id}, stream it (again) with "
        "GET /v1/responses/{id}?stream=true&starting_after=N, stop it with "
        "POST /v1/responses/{id}/cancel. Needs store: true."
    )  # fmt: skip
    # Accepted, not translated: chat completions has no such setting, or it changes nothing.
    reasoning: dict[str, Any] | None = None
    service_tier: StrictStr | None = None
    prompt_cache_key: StrictStr | None = None
    safety_identifier: StrictStr | None = None
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    max_tool_calls: Count | None = None
    stream_options: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_messages(cls, given: Any) -> Any:
        """A string input is one user message; a message without a type is a message item
        (as the SDKs allow)."""
        if not isinstance(given, dict):
            return given
        if isinstance(given.get("input"), str):
            return {**given, "input": [{"type": "message", "role": "user",
                                        "content": given["input"]}]}  # fmt: skip
        if isinstance(given.get("input"), list):
            return {**given, "input": [_message_wrapped(item) for item in given["input"]]}
        return given


def chat_messages(
    instructions: str | None, items: list[Item], *, first_new: int = 0
) -> list[dict[str, Any]]:
    """The conversation as chat messages. A function call's output must answer a call made
    before it; `first_new` is where the client's own items begin (the ones it is told about)."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    called: set[str] = set()
    for index, item in enumerate(items):
        if isinstance(item, McpListToolsItem):
            continue
        if isinstance(item, McpCallItem):
            messages += hosted_turn(item)
        elif isinstance(item, FunctionCallItem):
            called.add(item.call_id)
            call = {"id": item.call_id, "type": "function",
                    "function": {"name": item.name, "arguments": item.arguments}}  # fmt: skip
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif isinstance(item, FunctionCallOutputItem):
            if item.call_id not in called:
                raise BadRequest(
                    f"No function call with call_id '{item.call_id}' precedes this output; "
                    "send the function_call item (or previous_response_id) it answers.",
                    param=f"input[{index - first_new}].call_id", code="unknown_call_id",
                )  # fmt: skip
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
        else:
            messages.append({"role": _chat_role(item.role), "content": _chat_content(item)})
    return messages


def _chat_role(role: Role) -> str:
    return "system" if role == "developer" else role


def _chat_content(item: MessageItem) -> str | list[dict[str, Any]]:
    if all(isinstance(part, InputText) for part in item.content):
        return item.text()
    return [
        {"type": "text", "text": part.text}
        if isinstance(part, InputText)
        else {"type": "image_url", "image_url": {"url": part.image_url, "detail": part.detail}}
        for part in item.content
    ]


def function_tools(body: ResponseRequest) -> list[FunctionTool]:
    return [tool for tool in body.tools if isinstance(tool, FunctionTool)]


def chat_options(body: ResponseRequest, hosted: list[dict[str, Any]]) -> dict[str, Any]:
    """The request's parameters as chat completions names them (with the `hosted` tools'
    function definitions beside the client's own)."""
    options: dict[str, Any] = {
        key: value
        for key, value in (("temperature", body.temperature), ("top_p", body.top_p),
                           ("user", body.user))
        if value is not None
    }  # fmt: skip
    if body.tools:
        options["tools"] = [
            {"type": "function",
             "function": tool.model_dump(exclude={"type"}, exclude_none=True)}
            for tool in function_tools(body)
        ] + hosted  # fmt: skip
        options["parallel_tool_calls"] = body.parallel_tool_calls
        choice = body.tool_choice
        options["tool_choice"] = (
            choice if isinstance(choice, str)
            else {"type": "function", "function": {"name": choice.name}}
        )  # fmt: skip
    given = body.text.format
    if given.type == "json_object":
        options["response_format"] = {"type": "json_object"}
    elif given.type == "json_schema":
        schema = JsonSchemaFormat(name=given.name or "", schema=given.schema_, strict=given.strict)
        described = schema.model_dump(by_alias=True, exclude_none=True)
        options["response_format"] = {"type": "json_schema", "json_schema": described}
    return options
