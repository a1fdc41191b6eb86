"""Read or clear a chat session kept by the server."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from langchain_core.messages import message_to_dict

from app.api.deps import HistoryDep
from chains.chat import SESSION_ID_PATTERN

router = APIRouter(prefix="/chat/history", tags=["chat"])

SessionIdQuery = Annotated[
    str, Query(pattern=SESSION_ID_PATTERN, description="The session_id the chat was run with.")
]


@router.get("")
async def read_history(session_id: SessionIdQuery, history: HistoryDep) -> dict[str, Any]:
    messages = await history.aload(session_id)
    return {"session_id": session_id, "messages": [message_to_dict(m) for m in messages]}


@router.delete("")
async def clear_history(session_id: SessionIdQuery, history: HistoryDep) -> dict[str, Any]:
    return {"session_id": session_id, "deleted": await history.aclear(session_id)}
