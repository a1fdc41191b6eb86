"""Cache keys: a digest of every part that changes an answer, in one canonical form.

Parts are encoded as one JSON array (so no separator can be forged inside a part) with object
keys sorted (so their order does not matter) and integral floats written as integers (`0.0` is
`0`). Strings are kept byte for byte: text that looks alike but is encoded otherwise (NFC and
NFD forms, say) is another prompt to a model, so it is another key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Scope:
    """Whose entries: a tenant's, of one model alias. Entries never cross scopes."""

    tenant_id: str
    alias: str

    @property
    def path(self) -> str:
        """The scope as a key path: the tenant (a slug) and the alias, hex-encoded (an alias
        may hold any character, a glob's among them)."""
        return f"{self.tenant_id}:{self.alias.encode().hex()}"


def canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def digest(*parts: Any) -> str:
    """The key of `parts`: equal for equal parts in any key order, distinct otherwise."""
    encoded = orjson.dumps(canonical(list(parts)), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()
