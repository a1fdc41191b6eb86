"""Chat sessions kept by the server, scoped to a tenant: each turn is written at once.

A turn (new messages + reply) is stored in one transaction when the reply ends, however it
ends. A crash before that stores nothing, so a history never ends with an unanswered message;
a reply cut short by a disconnect or an error is stored with what was produced and marked
interrupted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import Engine, delete, exists, select, text, update
from sqlalchemy.orm import Session

from app.storage.tables import ChatMessageRow

if TYPE_CHECKING:  # LangChain is the chains', loaded after startup
    from langchain_core.messages import BaseMessage

#: Marks a stored reply that was cut short (a disconnect or an error), in its response metadata.
INTERRUPTED = "interrupted"
#: A session id: the key a conversation is kept under, per tenant.
SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"

logger = logging.getLogger(__name__)


def _log_failure(write: asyncio.Future[None]) -> None:
    if not write.cancelled() and write.exception() is not None:
        logger.error("storing a chat turn failed", exc_info=write.exception())


class ChatHistoryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, tenant_id: str, session_id: str) -> list[BaseMessage]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(ChatMessageRow.message)
                .where(ChatMessageRow.tenant_id == tenant_id)
                .where(ChatMessageRow.session_id == session_id)
                .order_by(ChatMessageRow.id)
            ).all()
        from langchain_core.messages import messages_from_dict

        return messages_from_dict([json.loads(row) for row in rows])

    def sessions(self, tenant_id: str) -> list[str]:
        with Session(self._engine) as session:
            return list(
                session.scalars(
                    select(ChatMessageRow.session_id)
                    .distinct()
                    .where(ChatMessageRow.tenant_id == tenant_id)
                    .order_by(ChatMessageRow.session_id)
                )
            )

    def append_turn(
        self,
        tenant_id: str,
        session_id: str,
        new_messages: Sequence[BaseMessage],
        reply: BaseMessage,
    ) -> None:
        interrupted = bool(reply.response_metadata.get(INTERRUPTED))
        now = datetime.now(UTC)
        rows = [
            ChatMessageRow(
                tenant_id=tenant_id,
                session_id=session_id,
                message=json.dumps(_as_dict(message)),
                interrupted=interrupted and message is reply,
                created_at=now,
            )
            for message in [*new_messages, reply]
        ]
        with Session(self._engine) as session, session.begin():
            session.add_all(rows)

    def clear(self, tenant_id: str, session_id: str) -> int:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(ChatMessageRow)
                .where(ChatMessageRow.tenant_id == tenant_id)
                .where(ChatMessageRow.session_id == session_id)
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def rename(self, tenant_id: str, session_id: str, to: str) -> int | None:
        """Move a session's messages to the id `to`, if no session has it, as one step: how
        many moved, or None if `to` is taken. Renames of one tenant are serialised (SQLite
        takes its write lock before the statement reads; PostgreSQL, an advisory lock), so two
        sessions renamed to one id at once cannot merge."""
        of_tenant = ChatMessageRow.tenant_id == tenant_id
        taken = exists().where(of_tenant, ChatMessageRow.session_id == to)
        with Session(self._engine) as session, session.begin():
            if self._engine.dialect.name == "postgresql":
                lock = text("select pg_advisory_xact_lock(hashtext(:key))")
                session.execute(lock, {"key": f"chat-rename:{tenant_id}"})
            result = session.execute(
                update(ChatMessageRow)
                .where(of_tenant, ChatMessageRow.session_id == session_id, ~taken)
                .values(session_id=to)
            )
            moved = int(result.rowcount or 0)  # type: ignore[attr-defined]
            if not moved and session.scalar(select(taken)):
                return None
        return moved

    async def arename(self, tenant_id: str, session_id: str, to: str) -> int | None:
        return await anyio.to_thread.run_sync(self.rename, tenant_id, session_id, to)

    async def aload(self, tenant_id: str, session_id: str) -> list[BaseMessage]:
        return await anyio.to_thread.run_sync(self.load, tenant_id, session_id)

    async def asessions(self, tenant_id: str) -> list[str]:
        return await anyio.to_thread.run_sync(self.sessions, tenant_id)

    async def aclear(self, tenant_id: str, session_id: str) -> int:
        return await anyio.to_thread.run_sync(self.clear, tenant_id, session_id)

    async def aappend_turn(
        self,
        tenant_id: str,
        session_id: str,
        new_messages: Sequence[BaseMessage],
        reply: BaseMessage,
    ) -> None:
        """Store the turn even while the request is being cancelled (client gone): the write
        runs in a worker thread that finishes whatever happens to the awaiting task."""
        write = asyncio.get_running_loop().run_in_executor(
            None, self.append_turn, tenant_id, session_id, new_messages, reply
        )
        write.add_done_callback(_log_failure)
        await asyncio.shield(write)


def _as_dict(message: BaseMessage) -> dict:
    from langchain_core.messages import message_to_dict

    return message_to_dict(message)
