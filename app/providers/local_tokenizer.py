"""The embedded model's own tokenizer and chat template, loaded in-process (vocab only).

It counts exactly what llama.cpp's server counts: a chat prompt is rendered with the chat
template stored in the GGUF file (SmolLM2's adds a default system message when none is
given), then tokenized like the server does. Loading takes ~0.2 s and a few MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


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
        rendered = self._format(messages=[{"role": r, "content": t} for r, t in messages])
        return len(
            self._llama.tokenize(
                rendered.prompt.encode(), add_bos=not rendered.added_special, special=True
            )
        )

    def count_text(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=False))
