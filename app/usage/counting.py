"""Counting tokens a provider did not report (llama.cpp's streams report none).

The embedded model's own tokenizer (`/extras/tokenize/count` of its server) counts exactly:
the prompt is rendered in ChatML, the template SmolLM2 carries, which reproduces the server's
own prompt count. Other providers' text is estimated at 4 characters a token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import httpx
from langchain_core.messages import BaseMessage

TokenSource = Literal["provider", "counted", "estimated"]

_CHATML_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


def render_chatml(messages: Sequence[BaseMessage]) -> str:
    turns = [
        f"<|im_start|>{_CHATML_ROLES.get(m.type, m.type)}\n{m.text}<|im_end|>\n" for m in messages
    ]
    return "".join(turns) + "<|im_start|>assistant\n"


def prompt_upper_bound(messages: Sequence[BaseMessage]) -> int:
    """At least as many tokens as the prompt can take: a token covers one byte or more."""
    return sum(len(message.text.encode()) + 8 for message in messages) + 8


def _estimate(text: str) -> int:
    return math.ceil(len(text) / 4)


class TokenCounter:
    def __init__(self, client: httpx.AsyncClient, local_url: str | None) -> None:
        self._client = client
        self._local_url = local_url

    async def _count_locally(self, text: str) -> int:
        response = await self._client.post(
            f"{self._local_url}/extras/tokenize/count", json={"input": text}
        )
        response.raise_for_status()
        return int(response.json()["count"])

    async def count(
        self, local: bool, prompt: Sequence[BaseMessage], output: str
    ) -> tuple[int, int, TokenSource]:
        """(input tokens, output tokens, how they were obtained) for one model call."""
        if local and self._local_url is not None:
            try:
                prompt_tokens = await self._count_locally(render_chatml(prompt))
                output_tokens = await self._count_locally(output) if output else 0
                return prompt_tokens, output_tokens, "counted"
            except httpx.HTTPError:
                pass  # the model server is gone (it failed the call too): estimate instead
        prompt_tokens = sum(_estimate(message.text) + 4 for message in prompt)
        return prompt_tokens, _estimate(output), "estimated"
