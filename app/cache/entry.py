"""One cached answer: what the provider answered (whole, or the chunks of its stream), its
usage, and who paid for it. Read back, an entry is checked: one that is not what this module
wrote (a wrong type, truncated, written for another key) is not used."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson

FORMAT = 1
Kind = Literal["answer", "stream"]


@dataclass(frozen=True)
class Entry:
    key: str  # the digest it is kept under
    kind: Kind
    #: The whole answer (`answer`), or the stream's chunks in order (`stream`).
    body: dict[str, Any] | list[dict[str, Any]]
    usage: tuple[int, int] | None  # as the provider reported it; None: counted on use
    local: bool  # the embedded model answered: its tokens are counted exactly
    paid_by: str  # the request whose call to the provider made it
    created: float = 0.0  # Unix seconds

    def encode(self) -> bytes:
        return orjson.dumps(
            {"v": FORMAT, "key": self.key, "kind": self.kind, "body": self.body,
             "usage": self.usage, "local": self.local, "paid_by": self.paid_by,
             "created": self.created or time.time()}
        )  # fmt: skip

    def age(self, now: float) -> float:
        return max(0.0, now - self.created)

    @classmethod
    def decode(cls, raw: bytes, key: str) -> Entry | None:
        """The entry `raw` holds for `key`; None if it is not a well-formed one."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(data, dict) or data.get("v") != FORMAT or data.get("key") != key:
            return None
        kind, body, usage = data.get("kind"), data.get("body"), data.get("usage")
        if kind == "answer":
            if not isinstance(body, dict):
                return None
        elif (
            kind != "stream"
            or not isinstance(body, list)
            or not body
            or not all(isinstance(chunk, dict) for chunk in body)
        ):
            return None
        if usage is not None and not (
            isinstance(usage, list) and len(usage) == 2 and all(type(n) is int for n in usage)
        ):
            return None
        created, paid_by = data.get("created"), data.get("paid_by")
        if not isinstance(created, int | float) or not isinstance(paid_by, str):
            return None
        return cls(key, kind, body, None if usage is None else (usage[0], usage[1]),
                   data.get("local") is True, paid_by, float(created))  # fmt: skip
