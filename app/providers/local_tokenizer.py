"""The embedded model's own tokenizer and chat template, loaded in-process (vocab only).

It counts exactly what llama.cpp's server counts: a chat prompt is rendered with the chat
template stored in the GGUF file (SmolLM2's adds a default system message when none is
given), then tokenized like the server does. Loading takes ~0.2 s and a few MB.
`ContextLimit` uses it to refuse a request too long for the model's context up front.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.errors import ProviderRefused
from app.providers.calls import TOOLS, prompt_of


class LocalTokenizer:
    def __init__(self, model_path: Path) -> None:
        from llama_cpp import Llama  # the 'local' extra
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama = Llama(model_path=str(model_path), vocab_only=True, verbose=False)
        model: Any = self._llama._model
        self._format = Jinja2ChatFormatter(
            template=self._llama.metadata["tokenizer.chat_template"],
            eos_token=model.token_get_text(self._llama.token_eos()),
            bos_token=model.token_get_text(self._llama.token_bos()),
        )

    def count_chat(self, messages: Sequence[tuple[str, str]]) -> int:
        """A chat prompt's tokens, rendered as the server renders it: its tools (`TOOLS`
        pairs) given to the template, which shows them as it does."""
        tools = [tool for role, text in messages if role == TOOLS for tool in json.loads(text)]
        rendered = self._format(
            messages=[{"role": r, "content": t} for r, t in messages if r != TOOLS],
            tools=tools or None,
        )
        return len(
            self._llama.tokenize(
                rendered.prompt.encode(), add_bos=not rendered.added_special, special=True
            )
        )

    def count_text(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=False))


class ContextLimit:
    """Refuses a prompt that does not fit the embedded model's context, as llama.cpp refuses it
    for a whole answer (400 `context_length_exceeded`): for a stream it sends an empty one
    instead. Like llama.cpp, a reply is given the room the prompt leaves (max_tokens is cut)."""

    def __init__(self, tokenizer: LocalTokenizer, n_ctx: int) -> None:
        self._tokenizer = tokenizer
        self._n_ctx = n_ctx

    def refusal(self, endpoint: str, body: Mapping[str, Any]) -> ProviderRefused | None:
        prompts = body.get("prompt") if endpoint == "completions" else None
        if isinstance(prompts, list) and len(prompts) > 1:  # llama.cpp asserts one (a 500)
            return ProviderRefused(
                f"This model completes one prompt per request, and {len(prompts)} were sent; "
                "send `prompt` as a string, one request per prompt.",
                status_code=400, param="prompt", code="too_many_prompts",
            )  # fmt: skip
        reply = body.get("max_tokens")
        reply = reply if isinstance(reply, int) else 0
        given = prompt_of(endpoint, body)
        if isinstance(given, str):
            field, prompt = "prompt", self._tokenizer.count_text(given)
        else:
            field, prompt = "messages", self._tokenizer.count_chat(given)
        if prompt < self._n_ctx:  # llama.cpp's own rule (llama.py: `_create_completion`)
            return None
        return ProviderRefused(
            f"This model's maximum context length is {self._n_ctx} tokens. However, you "
            f"requested {prompt + reply} tokens ({prompt} in the {field}, {reply} in the "
            f"completion). Please reduce the length of the {field} or completion.",
            status_code=400, param=field, code="context_length_exceeded",
        )  # fmt: skip
