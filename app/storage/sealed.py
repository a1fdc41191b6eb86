"""Values the server must read back but no one may read in the database: a shared tool
server's credentials. Sealed with Fernet (AES, authenticated) under a key derived from the
server's secret, so a copy of the database alone does not give them away."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class SealError(Exception):
    """A sealed value that this server's secret does not open (another secret sealed it)."""


class Sealer:
    def __init__(self, secret: bytes) -> None:
        key = hmac.new(secret, b"sealed-values", hashlib.sha256).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SealError("sealed with another secret: the server's secret_key changed") from None
