"""The caller's chat sessions kept by the server: list, read, rename, clear. Other tenants'
are 404."""

from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ServicesDep, route_guard
from app.errors import Conflict, NotFound
from app.http.json_body import api_router
from app.storage.chat_history import SESSION_ID_PATTERN
from app.tenants.models import Principal

chat_guard = Depends(route_guard("chat"))
router = api_router(prefix="/chat", tags=["chat"], dependencies=[chat_guard])
Caller = Annotated[Principal, chat_guard]

SessionIdQuery = Annotated[
    str, Query(pattern=SESSION_ID_PATTERN, description="The session_id the chat was run with.")
]


def _no_session(session_id: str) -> NotFound:
    return NotFound(f"No chat session '{session_id}'.", param="session_id", code="no_session")


@router.get("/sessions")
async def list_sessions(principal: Caller, services: ServicesDep) -> dict[str, Any]:
    return {"sessions": await services.history.asessions(principal.tenant.id)}


@router.get("/history")
async def read_history(
    session_id: SessionIdQuery, principal: Caller, services: ServicesDep
) -> dict[str, Any]:
    messages = await services.history.aload(principal.tenant.id, session_id)
    if not messages:
        raise _no_session(session_id)
    from langchain_core.messages import message_to_dict  # loaded with the use cases

    return {"session_id": session_id, "messages": [message_to_dict(m) for m in messages]}


@router.delete("/history")
async def clear_history(
    session_id: SessionIdQuery, principal: Caller, services: ServicesDep
) -> dict[str, Any]:
    deleted = await services.history.aclear(principal.tenant.id, session_id)
    if not deleted:
        raise _no_session(session_id)
    return {"session_id": session_id, "deleted": deleted}


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(pattern=SESSION_ID_PATTERN, description="The session's new id.")


@router.post("/sessions/{session_id}/rename")
async def rename_session(
    session_id: Annotated[str, Path(pattern=SESSION_ID_PATTERN)], rename: Rename,
    principal: Caller, services: ServicesDep,
) -> dict[str, Any]:  # fmt: skip
    """Give a kept conversation another id (its name); 409 if the tenant has one by that id."""
    moved = await services.history.arename(principal.tenant.id, session_id, rename.to)
    if moved is None:
        raise Conflict(
            f"A chat session '{rename.to}' exists already; choose another name.",
            param="to", code="session_exists",
        )  # fmt: skip
    if not moved:
        raise _no_session(session_id)
    return {"session_id": rename.to, "messages": moved}
