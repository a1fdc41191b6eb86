"""API keys: `gp-<key id>-<secret>`, random, stored only as a keyed hash (HMAC-SHA256).

The key id is public (it names the key in lists and the ledger); the secret is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from app.storage.private_files import write_private

PREFIX = "gp"


@dataclass(frozen=True)
class NewKey:
    id: str
    raw: str


class KeyHasher:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def hash(self, raw_key: str) -> str:
        return hmac.new(self._secret, raw_key.encode(), hashlib.sha256).hexdigest()

    def matches(self, raw_key: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(raw_key), stored_hash)

    def sign(self, value: str) -> str:
        """A MAC for other server-issued values (what a browser session's token is kept as)."""
        return hmac.new(self._secret, b"cookie:" + value.encode(), hashlib.sha256).hexdigest()


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    return NewKey(id=key_id, raw=f"{PREFIX}-{key_id}-{secrets.token_hex(24)}")


def key_id_of(raw_key: str) -> str | None:
    """The key id a presented key claims, or None when it is not shaped like our keys."""
    parts = raw_key.split("-")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def load_or_create_secret(path: Path) -> bytes:
    """The server's hashing secret kept in a file readable by its owner only."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    secret = secrets.token_bytes(32)
    write_private(path, secret.hex())
    return secret
