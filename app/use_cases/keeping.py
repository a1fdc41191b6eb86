"""What the server keeps of a conversation: as sent, or, under a guardrail policy with
`store_masked`, with what the policy masks or redacts in requests as placeholders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from app.guardrails import Guard, keeping_rules
from app.providers import account_in

Keep = Callable[[Sequence[BaseMessage]], list[BaseMessage]]


def keeper(config: RunnableConfig) -> Keep:
    """How the run's request keeps messages; ask while the request is open (its account says
    whose policy applies), use when the turn ends."""
    rules = keeping_rules(account_in(config).guardrails)
    if rules is None:
        return list
    guard = Guard(rules, Counter())  # what is kept is not what was sent: counted nowhere

    def keep(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        return [_kept(message, guard) for message in messages]

    return keep


def _kept(message: BaseMessage, guard: Guard) -> BaseMessage:
    content = message.content
    if isinstance(content, str):
        return message.model_copy(update={"content": guard.request_text(content, "history")})
    parts = [
        {**part, "text": guard.request_text(part["text"], "history")}
        if isinstance(part, dict) and isinstance(part.get("text"), str) else part
        for part in content
    ]  # fmt: skip
    return message.model_copy(update={"content": parts})
