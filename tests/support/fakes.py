"""A fake LangChain chat model, for unit tests of LangChain-level logic (the model selector):
it answers with a header naming its label and the sampling parameters it was called with, then
its prompt. Tests of the platform itself use the echo upstream (echo_upstream.py), which the
platform reaches through its production path."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class EchoChat(BaseChatModel):
    label: str = "echo"

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        header = (
            f"[{self.label} temperature={kwargs.get('temperature')} "
            f"max_tokens={kwargs.get('max_tokens')}]"
        )
        text = "\n".join(f"{message.type}: {message.content}" for message in messages)
        message = AIMessage(content=f"{header} {text}")
        return ChatResult(generations=[ChatGeneration(message=message)])
