"""A model alias as a LangChain chat model, calling its deployments through the `Dispatcher`.

The chains and /v1 thus share one upstream path: the same retries, fallbacks, circuit
breakers, HTTP pool and request shapes. Nothing of the OpenAI SDK sits in between: a body is
built from the messages and the bound parameters (temperature, max_tokens), and the answer or
stream is read straight into AIMessage(Chunk)s with the provider's token usage when it reports
one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict

from app.providers.accounting import current_account
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

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:  # fmt: skip
        raise NotImplementedError("The platform's models are async only: use ainvoke.")

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:  # fmt: skip
        account = current_account()
        body = self._body(messages, stop, **kwargs)
        answer = await self.dispatcher.complete(self.alias, _ENDPOINT, body, account=account)
        choice = (answer.data["choices"] or [{}])[0]
        message = AIMessage(
            content=(choice.get("message") or {}).get("content") or "",
            usage_metadata=_usage_metadata(answer.usage),
            response_metadata={"finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"token_usage": answer.data.get("usage"), "model_name": self.alias},
        )

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:  # fmt: skip
        account = current_account()
        body = self._body(messages, stop, **kwargs, stream=True)
        body["stream_options"] = {"include_usage": True}
        # Closed when the stream ends or is abandoned (a client's disconnect cancels it);
        # the request's account closes it too, should this generator never be closed.
        async with await self.dispatcher.stream(
            self.alias, _ENDPOINT, body, account=account
        ) as chunks:
            async for data in chunks:
                for choice in data.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    finish = choice.get("finish_reason")
                    metadata = {"finish_reason": finish} if finish else {}
                    yield ChatGenerationChunk(
                        message=AIMessageChunk(content=text, response_metadata=metadata)
                    )
            if chunks.usage is not None:
                last = AIMessageChunk(content="", usage_metadata=_usage_metadata(chunks.usage))
                yield ChatGenerationChunk(message=last)


def alias_models(aliases: Mapping[str, Any], dispatcher: Dispatcher) -> dict[str, ChatRunnable]:
    """The chat model of every alias, each over the platform's one dispatcher."""
    return {alias: AliasChatModel(alias=alias, dispatcher=dispatcher) for alias in aliases}
