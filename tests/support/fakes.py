"""A fake chat model for unit tests: it answers with the prompt it was given, word by word."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field


def render(label: str, messages: list[BaseMessage], **kwargs: Any) -> list[str]:
    """The reply's words: a header naming the model and parameters, then the prompt, cut to
    `max_tokens` words as a real model would cut it."""
    header = (
        f"[{label} temperature={kwargs.get('temperature')} max_tokens={kwargs.get('max_tokens')}]"
    )
    text = "\n".join(f"{message.type}: {message.content}" for message in messages)
    words = [header, *text.split(" ")]
    return words[: kwargs.get("max_tokens") or len(words)]


def prompt_words(messages: list[BaseMessage]) -> int:
    return sum(len(str(message.content).split()) for message in messages)


class EchoChat(BaseChatModel):
    """Replies with every message of its prompt and the sampling parameters it was called with.

    Like OpenAI, it reports usage (a token per whitespace-separated word) on whole replies and
    none on streams; `delay` makes each reply take that long (for concurrency tests).
    """

    label: str = "echo"
    delay: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _result(self, messages: list[BaseMessage], **kwargs: Any) -> ChatResult:
        reply = " ".join(render(self.label, messages, **kwargs))
        usage = {
            "input_tokens": prompt_words(messages),
            "output_tokens": len(reply.split()),
            "total_tokens": prompt_words(messages) + len(reply.split()),
        }
        message = AIMessage(content=reply, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return self._result(messages, **kwargs)

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        await asyncio.sleep(self.delay)
        return self._result(messages, **kwargs)

    def _chunks(self, messages: list[BaseMessage], **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        words = render(self.label, messages, **kwargs)
        for index, word in enumerate(words):
            separator = " " if index < len(words) - 1 else ""
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + separator))

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(messages, **kwargs)

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(messages, **kwargs):
            await asyncio.sleep(self.delay / 10)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


class ScriptedChat(BaseChatModel):
    """Replies with `replies` in turn (the last one again once they run out) and keeps every
    prompt it was given. Usage: a token per word, on whole replies and on streams alike."""

    replies: list[str]
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages: list[BaseMessage]) -> tuple[str, dict[str, int]]:
        self.prompts.append(messages)
        reply = self.replies[min(len(self.prompts), len(self.replies)) - 1]
        used = {"input_tokens": prompt_words(messages), "output_tokens": len(reply.split())}
        return reply, {**used, "total_tokens": used["input_tokens"] + used["output_tokens"]}

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        reply, usage = self._next(messages)
        message = AIMessage(content=reply, usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply, usage = self._next(messages)
        pieces = [reply[index : index + 5] for index in range(0, len(reply), 5)]
        for piece in pieces:
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=usage))
