"""A model alias as a LangChain chat model, calling its deployments through the `Dispatcher`.

The chains and /v1 thus share one upstream path: the same retries, fallbacks, circuit
breakers, HTTP pool and request shapes. Nothing of the OpenAI SDK sits in between: a body is
built from the messages and the bound parameters (temperature, max_tokens), and the answer or
stream is read straight into AIMessage(Chunk)s with the provider's token usage when it reports
one. Tools (`bind_tools`) and structured output (`with_structured_output`, by tool calling or by
a `json_schema` response format) pass to the provider in OpenAI's shapes; its tool calls come
back as the message's `tool_calls` (streamed: `tool_call_chunks`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    BaseCallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InvalidToolCall,
    ToolCall,
    ToolCallChunk,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict

from app.errors import PlatformError
from app.providers.accounting import AccountHolder, CallAccount
from app.providers.calls import Usage
from app.providers.dispatcher import Dispatcher

_ENDPOINT = "chat/completions"

#: A model alias's chat model: an `AliasChatModel`, or any runnable a test passes instead.
ChatRunnable = Runnable[Any, BaseMessage]


def _usage_metadata(usage: Usage | None) -> UsageMetadata | None:
    if usage is None:
        return None
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.input_tokens + usage.output_tokens,
    )


class AliasChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    alias: str
    dispatcher: Dispatcher

    @property
    def _llm_type(self) -> str:
        return "genai-routed"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.alias}

    def _body(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> dict:
        body = {"messages": convert_to_openai_messages(messages), **kwargs}
        if stop:
            body["stop"] = stop
        return body

    def bind_tools(
        self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
        tool_choice: str | dict[str, Any] | bool | None = None, **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:  # fmt: skip
        """The model with `tools` (in OpenAI's shape) sent on every call."""
        bound: dict[str, Any] = {"tools": [convert_to_openai_tool(tool) for tool in tools]}
        if tool_choice is not None and tool_choice is not False:
            bound["tool_choice"] = _tool_choice(tool_choice)
        return self.bind(**bound, **kwargs)

    def with_structured_output(  # type: ignore[override]
        self, schema: dict[str, Any] | type, *, method: str = "function_calling",
        include_raw: bool = False, **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:  # fmt: skip
        """Answers shaped by `schema`: through a tool call (the default, as LangChain's), or
        with `method="json_schema"` through the response format (the embedded model holds its
        answer to the schema with llama.cpp's grammar)."""
        if method != "json_schema":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if include_raw:
            raise ValueError("include_raw is not supported with method='json_schema'")
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            json_schema, name = schema.model_json_schema(), schema.__name__
            parser = PydanticOutputParser(pydantic_object=schema)
        elif isinstance(schema, dict):
            json_schema, name = schema, str(schema.get("title", "answer"))
            parser = JsonOutputParser()
        else:
            raise TypeError("a schema is a pydantic model or a JSON schema (a dict)")
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": json_schema, "strict": True},
        }
        return self.bind(response_format=response_format) | parser

    # The run's config holds the request's meter: its account rides along as an argument.

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
        stop: list[str] | None = None, **kwargs: Any,
    ) -> AIMessage:  # fmt: skip
        account = account_in(config)
        return await super().ainvoke(input, config, stop=stop, account=account, **kwargs)

    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, *,
        stop: list[str] | None = None, **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:  # fmt: skip
        account = account_in(config)
        async for chunk in super().astream(input, config, stop=stop, account=account, **kwargs):
            yield chunk

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:  # fmt: skip
        raise NotImplementedError("The platform's models are async only: use ainvoke.")

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, *, account: CallAccount,
        **kwargs: Any,
    ) -> ChatResult:  # fmt: skip
        body = self._body(messages, stop, **kwargs)
        answer = await self.dispatcher.complete(self.alias, _ENDPOINT, body, account=account)
        choice = (answer.data["choices"] or [{}])[0]
        given = choice.get("message") or {}
        tool_calls, invalid = _tool_calls(given.get("tool_calls"))
        message = AIMessage(
            content=given.get("content") or "",
            tool_calls=tool_calls,
            invalid_tool_calls=invalid,
            usage_metadata=_usage_metadata(answer.usage),
            response_metadata={"finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"token_usage": answer.data.get("usage"), "model_name": self.alias},
        )

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, *, account: CallAccount,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:  # fmt: skip
        body = self._body(messages, stop, **kwargs, stream=True)
        body["stream_options"] = {"include_usage": True}
        # Closed when the stream ends or is abandoned (a client's disconnect cancels it);
        # the request's account closes it too, should this generator never be closed.
        async with await self.dispatcher.stream(
            self.alias, _ENDPOINT, body, account=account
        ) as chunks:
            async for data in chunks:
                for choice in data.get("choices") or []:
                    delta = choice.get("delta") or {}
                    finish = choice.get("finish_reason")
                    metadata = {"finish_reason": finish} if finish else {}
                    message = AIMessageChunk(
                        content=delta.get("content") or "",
                        tool_call_chunks=_tool_call_chunks(delta.get("tool_calls")),
                        response_metadata=metadata,
                    )
                    yield ChatGenerationChunk(message=message)
            if chunks.usage is not None:
                last = AIMessageChunk(content="", usage_metadata=_usage_metadata(chunks.usage))
                yield ChatGenerationChunk(message=last)


def _tool_choice(choice: str | dict[str, Any] | bool) -> str | dict[str, Any]:
    """LangChain's ways to name a tool choice, in OpenAI's."""
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice  # type: ignore[return-value]


def _tool_calls(given: Any) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for raw in given if isinstance(given, list) else ():
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except OutputParserException as exc:
            invalid.append(make_invalid_tool_call(raw, str(exc)))
            continue
        if parsed is not None:
            calls.append(parsed)  # type: ignore[arg-type]
    return calls, invalid


def _tool_call_chunks(given: Any) -> list[ToolCallChunk]:
    return [
        ToolCallChunk(
            name=(raw.get("function") or {}).get("name"),
            args=(raw.get("function") or {}).get("arguments"),
            id=raw.get("id"),
            index=raw.get("index"),
        )
        for raw in (given if isinstance(given, list) else ())
    ]


def alias_models(aliases: Mapping[str, Any], dispatcher: Dispatcher) -> dict[str, ChatRunnable]:
    """The chat model of every alias, each over the platform's one dispatcher."""
    return {alias: AliasChatModel(alias=alias, dispatcher=dispatcher) for alias in aliases}


def account_in(config: RunnableConfig | None) -> CallAccount:
    """The account a chat model run with `config` is charged to; a bug (500) if it has none."""
    callbacks = (config or {}).get("callbacks")
    handlers = callbacks.handlers if isinstance(callbacks, BaseCallbackManager) else callbacks
    for handler in handlers or ():
        if isinstance(handler, AccountHolder) and not handler.account.closed:
            return handler.account
    raise PlatformError(
        "A model call was attempted outside an admitted request; it was refused.",
        code="unmetered_model_call",
    )
