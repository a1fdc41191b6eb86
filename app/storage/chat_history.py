"""Chat sessions kept by the server: each turn (new messages + reply) is written at once.

A turn is stored in one transaction when the reply ends, however it ends. A crash before that
stores nothing, so a history never ends with an unanswered message; a reply cut short by a
disconnect or an error is stored with what was produced and marked interrupted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import anyio
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
from sqlalchemy import Boolean, DateTime, Engine, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.storage.database import Base

INTERRUPTED = "interrupted"

logger = logging.getLogger(__name__)


def _log_failure(write: asyncio.Future[None]) -> None:
    if not write.cancelled() and write.exception() is not None:
        logger.error("storing a chat turn failed", exc_info=write.exception())


class ChatMessageRow(Base):
    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(128), index=True)
    message: Mapped[str] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChatHistoryStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, session_id: str) -> list[BaseMessage]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(ChatMessageRow)
                .where(ChatMessageRow.session_id == session_id)
                .order_by(ChatMessageRow.id)
            ).all()
        return messages_from_dict([json.loads(row.message) for row in rows])

    def append_turn(
        self, session_id: str, new_messages: Sequence[BaseMessage], reply: BaseMessage
    ) -> None:
        interrupted = bool(reply.response_metadata.get(INTERRUPTED))
        now = datetime.now(UTC)
        rows = [
            ChatMessageRow(
                session_id=session_id,
                message=json.dumps(message_to_dict(message)),
                interrupted=interrupted and message is reply,
                created_at=now,
            )
            for message in [*new_messages, reply]
        ]
        with Session(self._engine) as session, session.begin():
            session.add_all(rows)

    def clear(self, session_id: str) -> int:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(ChatMessageRow).where(ChatMessageRow.session_id == session_id)
            )
        return int(result.rowcount or 0)

    async def aload(self, session_id: str) -> list[BaseMessage]:
        return await anyio.to_thread.run_sync(self.load, session_id)

    async def aappend_turn(
        self, session_id: str, new_messages: Sequence[BaseMessage], reply: BaseMessage
    ) -> None:
        """Store the turn even while the request is being cancelled (client gone): the write
        runs in a worker thread that finishes whatever happens to the awaiting task."""
        write = asyncio.get_running_loop().run_in_executor(
            None, self.append_turn, session_id, new_messages, reply
        )
        write.add_done_callback(_log_failure)
        await asyncio.shield(write)

    async def aclear(self, session_id: str) -> int:
        return await anyio.to_thread.run_sync(self.clear, session_id)
