"""What the server keeps of a conversation: as sent, or, under a guardrail policy with
`store_masked`, with what the policy masks or redacts in requests as placeholders."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from app.guardrails import keeper as text_keeper
from app.providers import account_in

Keep = Callable[[Sequence[BaseMessage]], list[BaseMessage]]


def keeper(config: RunnableConfig) -> Keep:
    """How the run's request keeps messages; ask while the request is open (its account says
    whose policy applies), use when the turn ends."""
    keep_text = text_keeper(account_in(config).guardrails)
    if keep_text is None:
        return list

    def kept(message: BaseMessage) -> BaseMessage:
        content = message.content
        if isinstance(content, str):
            return message.model_copy(update={"content": keep_text(content)})
        parts = [
            {**part, "text": keep_text(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str) else part
            for part in content
        ]  # fmt: skip
        return message.model_copy(update={"content": parts})

    return lambda messages: [kept(message) for message in messages]
