"""A use case's `progress` events (summarize's condensed parts) as MCP progress notifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler
from mcp.server.session import ServerSession

#: The custom event a use case sends as its work advances: `{"round", "part", "of"}`.
PROGRESS_EVENT = "progress"


class ProgressNotifications(AsyncCallbackHandler):
    """Sends each `progress` event of a run to the MCP client that asked for progress (it gave
    a progress token). `progress` counts the parts done over every round, so it only grows, as
    MCP requires; `total` is what is known so far (a later round's parts are known later)."""

    def __init__(self, session: ServerSession, token: str | int, request_id: str | int) -> None:
        self._session = session
        self._token = token
        self._request_id = request_id
        self._done = 0
        self._finished_rounds = 0  # the parts of the rounds before the current one
        self._round: int | None = None

    async def on_custom_event(
        self, name: str, data: Any, *, run_id: UUID, tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        if name != PROGRESS_EVENT or not isinstance(data, dict):
            return
        round_, part, of = data.get("round"), data.get("part"), data.get("of")
        if not all(isinstance(value, int) for value in (round_, part, of)):
            return
        if self._round is not None and round_ != self._round:
            self._finished_rounds = self._done
        self._round = round_
        self._done += 1
        await self._session.send_progress_notification(
            self._token, self._done, total=self._finished_rounds + of,
            message=f"round {round_}: part {part} of {of}",
            related_request_id=str(self._request_id),
        )  # fmt: skip
