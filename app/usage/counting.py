"""Counting tokens a provider did not report (llama.cpp's streams report none).

The embedded model's own tokenizer and chat template count exactly (see
providers/local_tokenizer.py); other providers' text is estimated at 4 characters a token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Protocol

from app.providers import Prompt

TokenSource = Literal["provider", "counted", "estimated"]


class Tokenizer(Protocol):
    def count_chat(self, messages: Sequence[tuple[str, str]]) -> int: ...

    def count_text(self, text: str) -> int: ...


def prompt_upper_bound(prompt: Prompt) -> int:
    """At least as many tokens as the prompt can take: a token covers one byte or more."""
    if isinstance(prompt, str):
        return len(prompt.encode()) + 8
    bound = 64  # room for a template
    for _, text in prompt:  # loops on a request's path: a comprehension is a call in 3.11
        bound += len(text.encode()) + 8
    return bound


def _estimate(text: str) -> int:
    return math.ceil(len(text) / 4)


class TokenCounter:
    def __init__(self, local: Tokenizer | None) -> None:
        self._local = local

    def count(self, local: bool, prompt: Prompt, output: str) -> tuple[int, int, TokenSource]:
        """(input tokens, output tokens, how they were obtained) for one model call."""
        if local and self._local is not None:
            tokenizer = self._local
            prompt_tokens = (
                tokenizer.count_text(prompt)
                if isinstance(prompt, str)
                else tokenizer.count_chat(prompt)
            )
            return prompt_tokens, tokenizer.count_text(output) if output else 0, "counted"
        if isinstance(prompt, str):
            prompt_tokens = _estimate(prompt)
        else:
            prompt_tokens = 0
            for _, text in prompt:
                prompt_tokens += _estimate(text) + 4
        return prompt_tokens, _estimate(output), "estimated"
