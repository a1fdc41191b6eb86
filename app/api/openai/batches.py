"""/v1/batches in OpenAI's protocol: a file of requests answered offline, at lower priority and
the alias's batch price, by whichever replicas have capacity (batch_runner.py runs the lines).

A batch is validated as it is created: a file that is not JSONL of requests for its endpoint
(or names a `custom_id` twice) makes a `failed` batch whose `errors` name each bad line; a
good one is `in_progress` at once, its lines kept in the database for the replicas to claim.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import anyio
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from app.api.model_calls import parse_body
from app.api.openai.batch_input import read_batch_input
from app.api.openai.batch_results import CANCELLED
from app.api.openai.batch_runner import BatchRunner
from app.api.openai.files import FilesServing
from app.errors import BadRequest, Conflict, NotFound
from app.storage.batches import BatchStore
from app.storage.ids import ordered_id
from app.storage.tables import BatchRow
from app.tenants.models import Principal

#: The endpoints a batch's lines may be for.
Endpoint = Literal["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"]
WINDOW_SECONDS = {"24h": 24 * 3600}
#: When each status was reached, by the API's name for it.
_ENDED_AT = {"completed": "completed_at", "failed": "failed_at", "expired": "expired_at",
             "cancelled": "cancelled_at"}  # fmt: skip


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_file_id: StrictStr = Field(min_length=1, max_length=64)
    endpoint: Endpoint
    completion_window: Literal["24h"]
    metadata: dict[str, StrictStr] | None = Field(None, max_length=16)


def batch_object(row: BatchRow) -> dict[str, Any]:
    """The batch as OpenAI's API shows it."""
    body: dict[str, Any] = {
        "id": row.id, "object": "batch", "endpoint": row.endpoint,
        "errors": {"object": "list", "data": row.errors} if row.errors else None,
        "input_file_id": row.input_file_id, "completion_window": row.completion_window,
        "status": row.status, "output_file_id": row.output_file_id,
        "error_file_id": row.error_file_id, "created_at": row.created_at,
        "in_progress_at": row.in_progress_at, "expires_at": row.expires_at,
        "finalizing_at": row.finalizing_at, "cancelling_at": row.cancelling_at,
        "request_counts": {"total": row.total, "completed": row.completed,
                           "failed": row.failed},
        "metadata": row.batch_metadata,
    }  # fmt: skip
    for status, name in _ENDED_AT.items():
        body[name] = row.ended_at if row.status == status else None
    return body


def batch_not_found(batch_id: str) -> NotFound:
    return NotFound(f"No such batch: '{batch_id}' (it was never created by you); GET "
                    "/v1/batches lists yours.", param="batch_id",
                    code="batch_not_found")  # fmt: skip


class BatchesServing:
    def __init__(
        self, store: BatchStore, files: FilesServing, runner: BatchRunner, max_line_bytes: int
    ) -> None:
        self._store = store
        self._files = files
        self._runner = runner
        self._max_line_bytes = max_line_bytes

    async def create(self, request: Request, principal: Principal) -> dict[str, Any]:
        body = await parse_body(BatchCreate, request)
        stored, content = await self._files.read(principal, body.input_file_id, "input_file_id")
        if stored.purpose != "batch":
            raise BadRequest(f"The file '{stored.id}' was uploaded for '{stored.purpose}', not "
                             "'batch'; upload the batch's input with purpose 'batch'.",
                             param="input_file_id", code="invalid_file_purpose")  # fmt: skip
        # Up to max_file_bytes of JSON: read in a thread, not in the loop other requests share.
        read = await anyio.to_thread.run_sync(read_batch_input, content, body.endpoint,
                                              self._max_line_bytes)  # fmt: skip
        now = int(time.time())
        row: dict[str, Any] = {
            "id": ordered_id("batch_"), "tenant_id": principal.tenant.id,
            "key_id": principal.key.id, "endpoint": body.endpoint,
            "input_file_id": stored.id, "completion_window": body.completion_window,
            "batch_metadata": body.metadata, "created_at": now,
            "expires_at": now + WINDOW_SECONDS[body.completion_window], "total": 0,
            "completed": 0, "failed": 0, "ending": "completed", "turn_at": 0.0,
        }  # fmt: skip
        if read.errors:
            row |= {"status": "failed", "errors": read.errors, "ended_at": now}
            lines = []
        else:
            row |= {"status": "in_progress", "in_progress_at": now, "total": len(read.lines)}
            lines = read.lines
        await self._store.create(row, lines)
        self._runner.wake()
        return await self.get(principal, row["id"])

    async def _row(self, principal: Principal, batch_id: str) -> BatchRow:
        row = await self._store.get(principal.tenant.id, batch_id)
        if row is None:
            raise batch_not_found(batch_id)
        return row

    async def get(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        return batch_object(await self._row(principal, batch_id))

    async def listed(
        self, principal: Principal, *, after: str | None, limit: int
    ) -> dict[str, Any]:
        """A page of the tenant's batches, newest first."""
        page = await self._store.page(principal.tenant.id, limit + 1, after)
        shown = [batch_object(row) for row in page[:limit]]
        return {"object": "list", "data": shown, "has_more": len(page) > limit,
                "first_id": shown[0]["id"] if shown else None,
                "last_id": shown[-1]["id"] if shown else None}  # fmt: skip

    async def cancel(self, principal: Principal, batch_id: str) -> dict[str, Any]:
        """Stop a batch taking lines: `cancelling` until the lines in flight end, then
        `cancelled`. Cancelling one that is cancelling or cancelled answers it as it stands."""
        row = await self._row(principal, batch_id)
        if row.status == "in_progress":
            row = await self._store.cancel(principal.tenant.id, batch_id, time.time(), CANCELLED)
            if row is None:  # deleted meanwhile: batches are not deleted, but be plain
                raise batch_not_found(batch_id)
        if row.status not in ("cancelling", "cancelled") and row.ending != "cancelled":
            raise Conflict(f"The batch '{batch_id}' is {row.status}: only a batch in progress "
                           "can be cancelled.", param="batch_id",
                           code="batch_not_cancellable")  # fmt: skip
        return batch_object(row)
