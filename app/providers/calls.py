"""What one call to one deployment did, as the ledger counts it: an `UpstreamCall`.

One model call of a request may reach several deployments: the one that answers; the next one,
continuing an answer the first cut short (`continuation`); a second one started beside a slow
one (`hedge`). The dispatcher records each on the call's account as it sends it, and fills in
what it produced. The usage meter counts every call with its own prompt, so a continuation
(whose prompt holds the partial answer) and a hedge are billed as providers bill them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

#: A chat prompt as (role, text) pairs, roles as OpenAI names them; or a raw text prompt.
Prompt = Sequence[tuple[str, str]] | str
#: The role of a chat prompt's first pair when it offers tools: their definitions, as JSON (a
#: model reads those too).
TOOLS = "tools"

CallRole = Literal["answer", "continuation", "hedge"]


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass
class UpstreamCall:
    alias: str
    deployment: str
    local: bool  # the embedded model: its tokens are counted exactly
    prompt: Prompt
    role: CallRole = "answer"
    choices: list[Any] = field(default_factory=list)  # what it generated, as it came
    usage: Usage | None = None  # as the provider reported it
    images: int = 0  # the images it made
    abandoned: bool = False  # cancelled by the platform while the provider worked (a lost hedge)
    answered: bool = False  # a whole answer came (a moderation's verdict reports no usage)
    #: Answered by the answer cache (deployment `cache`): a `hit`, or `coalesced` with an
    #: identical call in flight; `paid_by` names the request whose call made the answer.
    cached: Literal["hit", "coalesced"] | None = None
    paid_by: str | None = None
    #: The output of its first N choices, worked out (counting runs once, not per chunk).
    _texts: tuple[int, list[str]] = field(default=(0, []), init=False, repr=False, compare=False)

    @property
    def output(self) -> list[str]:
        """What it generated, by the one rule (`texts_of`), worked out once per new choice."""
        seen, texts = self._texts
        if seen != len(self.choices):
            self._texts = seen, texts = len(self.choices), texts_of(self.choices)
        return texts

    @property
    def did_work(self) -> bool:
        """Whether the provider did work worth billing (a failed call did none)."""
        return (
            self.usage is not None or bool(self.output) or self.images > 0 or self.abandoned
            or self.answered
        )  # fmt: skip


def texts_of(choices: list[Any]) -> list[str]:
    """What choices generated, the one rule for counting output on every route: a chat
    message's or delta's content, or a completion's text, and the names and arguments of its
    tool calls (the model wrote those too)."""
    texts: list[str] = []
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        holder = choice.get("message") or choice.get("delta") or choice
        text = holder.get("content") if "text" not in holder else holder.get("text")
        if isinstance(text, str) and text:
            texts.append(text)
        if tool_calls := holder.get("tool_calls"):
            texts += tool_call_texts(tool_calls)
    return texts


def tool_call_texts(tool_calls: Any) -> list[str]:
    """The names and arguments of a message's tool calls: text a model wrote, or reads."""
    texts = []
    for tool_call in tool_calls or ():
        function = tool_call.get("function") if isinstance(tool_call, dict) else None
        for part in (function.get("name"), function.get("arguments")) if function else ():
            if isinstance(part, str) and part:
                texts.append(part)
    return texts


def prompt_of(endpoint: str, body: Mapping[str, Any]) -> Prompt:
    """The prompt a request body sends: its messages as (role, text), after its tools' if it
    offers any, or its raw prompt (an embedding's texts, an image's description)."""
    if endpoint == "chat/completions":
        tools = body.get("tools")
        pairs = [(TOOLS, json.dumps(tools))] if tools else []
        for message in body.get("messages") or ():
            pairs.append(prompt_pair(message))
        return pairs
    given = body.get("input" if endpoint in ("embeddings", "moderations") else "prompt")
    if isinstance(given, list):
        given = "".join(
            part if isinstance(part, str) else part.get("text") or ""
            for part in given if isinstance(part, str | dict)
        )  # fmt: skip
    return given if isinstance(given, str) else ""


def items_asked(endpoint: str, body: Mapping[str, Any]) -> int | None:
    """How many items (choices, images) a request body asks for: an answer is held to that
    many, so what the platform relays and bills never exceeds what it reserved for. None for
    an endpoint whose items follow its input (embeddings)."""
    if endpoint in ("embeddings", "moderations"):
        return None
    n = body.get("n")
    asked = n if isinstance(n, int) and n > 0 else 1
    prompts = body.get("prompt") if endpoint == "completions" else None
    return asked * len(prompts) if isinstance(prompts, list) and prompts else asked


def prompt_pair(message: Mapping[str, Any]) -> tuple[str, str]:
    """A chat message as its prompt counts: its role, and its text with its tool calls'."""
    text = message_text(message.get("content"))
    if tool_calls := message.get("tool_calls"):
        text += "".join(tool_call_texts(tool_calls))
    return message.get("role", ""), text


def message_text(content: Any) -> str:
    """An OpenAI chat message's text: its content, or the text of its list of parts."""
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""
