"""A model alias as a LangChain chat model, calling its deployments through the `ModelRouter`.

The chains and /v1 thus share one upstream path: the same retries, fallbacks, circuit
breakers, HTTP pool and request shapes. Nothing of the OpenAI SDK sits in between: a body is
built from the messages and the bound parameters (temperature, max_tokens), and the answer or
stream is read straight into AIMessage(Chunk)s with the provider's token usage when it reports
one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
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
from pydantic import ConfigDict

from app.errors import UPSTREAM_FAILURES, platform_error
from app.providers.accounting import current_account
from app.providers.upstream import ModelRouter, stream_chunks

_ENDPOINT = "chat/completions"


def _usage(data: dict[str, Any]) -> UsageMetadata | None:
    usage = data.get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("completion_tokens"), int):
        return None
    input_tokens = int(usage.get("prompt_tokens") or 0)
    output_tokens = usage["completion_tokens"]
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


class RoutedChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    alias: str
    router: ModelRouter

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
        current_account()
        body = self._body(messages, stop, **kwargs)
        opened = await self.router.send(self.alias, _ENDPOINT, body, stream=False)
        data = await opened.json()
        choice = (data.get("choices") or [{}])[0]
        message = AIMessage(
            content=(choice.get("message") or {}).get("content") or "",
            usage_metadata=_usage(data),
            response_metadata={"finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"token_usage": data.get("usage"), "model_name": self.alias},
        )

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:  # fmt: skip
        current_account()
        body = self._body(messages, stop, **kwargs, stream=True)
        body["stream_options"] = {"include_usage": True}
        opened = await self.router.send(self.alias, _ENDPOINT, body, stream=True)
        try:
            async for data in stream_chunks(opened.lines()):
                usage = _usage(data)
                for choice in data.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    finish = choice.get("finish_reason")
                    metadata = {"finish_reason": finish} if finish else {}
                    chunk = AIMessageChunk(content=text, response_metadata=metadata)
                    yield ChatGenerationChunk(message=chunk)
                if usage is not None:
                    last = AIMessageChunk(content="", usage_metadata=usage)
                    yield ChatGenerationChunk(message=last)
        except UPSTREAM_FAILURES as exc:
            raise platform_error(exc) from exc
        finally:
            # Synchronous, so LangChain cancelling its stream tasks again and again (as a
            # client's disconnect does) cannot interrupt it: the upstream request ends here.
            opened.close()
