"""Browser sessions, kept on the server: a signed-in browser holds a random token in an HttpOnly
cookie, and the database holds a keyed hash of it, the key it stands for and when it expires.

Signing out deletes the row, so the cookie stops working at once on every replica; revoking
the key ends its sessions too (the key is checked on every request).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import anyio
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.storage.tables import BrowserSessionRow
from app.tenants.keys import KeyHasher


class BrowserSessions:
    def __init__(self, engine: Engine, hasher: KeyHasher, seconds: float) -> None:
        self._engine = engine
        self._hasher = hasher
        self.seconds = seconds

    def _open(self, key_id: str) -> str:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = BrowserSessionRow(
            token_hash=self._hasher.sign(token), key_id=key_id,
            expires_at=now + timedelta(seconds=self.seconds), created_at=now,
        )  # fmt: skip
        with Session(self._engine) as session, session.begin():
            session.execute(delete(BrowserSessionRow).where(BrowserSessionRow.expires_at < now))
            session.add(row)
        return token

    def _key_id(self, token: str) -> str | None:
        with Session(self._engine) as session:
            row = session.scalar(
                select(BrowserSessionRow).where(
                    BrowserSessionRow.token_hash == self._hasher.sign(token)
                )
            )
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        return row.key_id

    def _end(self, token: str) -> None:
        token_hash = self._hasher.sign(token)
        with Session(self._engine) as session, session.begin():
            session.execute(
                delete(BrowserSessionRow).where(BrowserSessionRow.token_hash == token_hash)
            )

    async def open(self, key_id: str) -> str:
        """A new session for the key: the token its cookie carries."""
        return await anyio.to_thread.run_sync(self._open, key_id)

    async def key_id(self, token: str) -> str | None:
        """The key a live session's token stands for; None if it is unknown, ended or expired."""
        return await anyio.to_thread.run_sync(self._key_id, token)

    async def end(self, token: str) -> None:
        await anyio.to_thread.run_sync(self._end, token)
