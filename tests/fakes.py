"""A fake chat model for unit tests: it answers with the prompt it was given, word by word."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult


def render(label: str, messages: list[BaseMessage], **kwargs: Any) -> list[str]:
    """The reply's words: a header naming the model and parameters, then the prompt, cut to
    `max_tokens` words as a real model would cut it."""
    header = (
        f"[{label} temperature={kwargs.get('temperature')} max_tokens={kwargs.get('max_tokens')}]"
    )
    text = "\n".join(f"{message.type}: {message.content}" for message in messages)
    words = [header, *text.split(" ")]
    return words[: kwargs.get("max_tokens") or len(words)]


class EchoChat(BaseChatModel):
    """Replies with every message of its prompt and the sampling parameters it was called with."""

    label: str = "echo"

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        reply = " ".join(render(self.label, messages, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        words = render(self.label, messages, **kwargs)
        for index, word in enumerate(words):
            separator = " " if index < len(words) - 1 else ""
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + separator))
