"""Nearest neighbours among one partition's vectors (unit length, so the dot product is the
cosine similarity). numpy is imported on first use: a cold start that serves no semantic
lookup does not pay for it."""

from __future__ import annotations

from typing import Any


class VectorIndex:
    """One partition's entries by their vectors; appended to, searched as one matrix."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._rows: list[Any] = []
        self._matrix: Any = None

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: str, vector: bytes) -> None:
        import numpy as np

        self.keys.append(key)
        self._rows.append(np.frombuffer(vector, dtype=np.float32))
        self._matrix = None

    def nearest(self, vector: bytes, threshold: float) -> str | None:
        if not self.keys:
            return None
        import numpy as np

        if self._matrix is None or len(self._matrix) != len(self._rows):
            self._matrix = np.vstack(self._rows)
        query = np.frombuffer(vector, dtype=np.float32)
        if query.shape[0] != self._matrix.shape[1]:
            return None
        scores = self._matrix @ query
        best = int(np.argmax(scores))
        return self.keys[best] if float(scores[best]) >= threshold else None
