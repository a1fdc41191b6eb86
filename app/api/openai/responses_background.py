"""Background responses (`background: true`): answered at once as `queued`, then answered by a
task of this replica while any replica serves their state from the database.

    POST /v1/responses ──> row (queued) ──> the answer's stream, kept in the event log
                                          ├──> polled:  GET /v1/responses/{id}
                                          ├──> streamed again: GET ...?stream=true&starting_after=N
                                          └──> POST /v1/responses/{id}/cancel (any replica)

The answer is a kept stream (streams/kept.py) that goes on whatever its client does, numbered
as it is logged: event N of the log is the response's `sequence_number` N - 1. Every
`background_check_seconds` the task notes in the row that it is still answering, and learns
whether the response was cancelled or deleted meanwhile, by any replica; a cancel made on this
replica stops it at once. A live response not noted for `STALE_CHECKS` checks is reported
failed: the replica answering it stopped (kill -9 leaves no other trace).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from app.api.model_calls import ModelCalls
from app.api.translation import Translation
from app.errors import BadRequest, ClientDisconnected, ServiceUnavailable
from app.storage.responses import ResponseStore, StoredResponse
from app.streams.kept import KeptStreams, StreamOptions
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest

logger = logging.getLogger(__name__)

STALE_CHECKS = 5
#: Go on when the client leaves, and keep the events for a client that streams them again.
KEPT = StreamOptions(resumable=True, on_disconnect="continue")


class Backgrounded(Translation, Protocol):
    """A response's translation that can be answered in the background."""

    items: list[dict[str, Any]]  #: the conversation it answers
    answers_stream: bool  #: the client asked for the stream (else, the queued response)

    def queued(self) -> dict[str, Any]:
        """The response as it stands before it is answered."""

    def cancelled(self) -> list[str]:
        """The frames that end its stream when it is cancelled."""


@dataclass
class _Job:
    """A background response this replica is answering, in the task that answers it."""

    task: asyncio.Task[Any]
    reading: bool = False  # waiting for the answer's next frame (not for the log)
    cancelled: bool = False

    def cancel(self) -> None:
        """Stop the answer: at once if it is being read, else before its next frame."""
        if not self.cancelled:
            self.cancelled = True
            if self.reading:
                self.task.cancel()


class BackgroundResponses:
    def __init__(
        self, calls: ModelCalls, store: ResponseStore, streams: KeptStreams, check_seconds: float
    ) -> None:
        self._calls = calls
        self._store = store
        self._streams = streams
        self._check = check_seconds
        self._jobs: dict[str, _Job] = {}

    async def start(
        self, call: Backgrounded, request: Request, principal: Principal, metered: MeteredRequest
    ) -> Response:
        """Admit `call`, keep it queued, then answer it in a task of its own: with the
        queued response, or with its stream if the client asked to stream it. A request
        refused at admission keeps nothing."""
        tenant_id = principal.tenant.id
        admitted = await self._calls.admit(call, principal, metered)
        queued = call.queued()
        await self._store.save(tenant_id, queued, call.as_stored(call.items))
        try:
            id_, frames = await self._calls.opened(call, admitted, request, metered,
                                                   detached=True)  # fmt: skip
            answered = self._answered(id_, call, frames, metered)
            owner = StreamOwner(tenant_id, call.route)
            streaming = await self._streams.start(id_, owner, answered, metered, KEPT)
        except BaseException:  # not started: nothing was answered
            await self._store.delete(tenant_id, queued["id"])
            raise
        return streaming if call.answers_stream else JSONResponse(queued)

    async def _answered(
        self, id_: str, call: Backgrounded, frames: AsyncIterator[str], metered: MeteredRequest
    ) -> AsyncIterator[str]:
        """The answer's frames while it is not cancelled; if it is, the frames that end it."""
        job = self._jobs[id_] = _Job(asyncio.current_task())  # type: ignore[arg-type]
        watching = asyncio.create_task(self._watch(id_, job))
        try:
            while not job.cancelled:
                job.reading = True
                try:
                    frame = await anext(frames)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if not job.cancelled:
                        raise
                    job.task.uncancel()
                    break
                finally:
                    job.reading = False
                yield frame
            await frames.aclose()  # closes the upstream call, if it was not closed already
            await metered.close(ClientDisconnected.status_code, interrupted=True)
            for frame in call.cancelled():
                yield frame
        finally:
            watching.cancel()
            del self._jobs[id_]

    async def _watch(self, id_: str, job: _Job) -> None:
        """Note the response in progress, at once and every check, until it is found
        cancelled or deleted (on any replica): then stop its answer."""
        while True:
            try:
                status = await self._store.alive(id_)
            except Exception:  # the database is away: the answer goes on, and so do checks
                logger.warning("could not check background response %s", id_, exc_info=True)
                status = "in_progress"
            if status in (None, "cancelled"):
                job.cancel()
            if status != "in_progress":  # it ended (as its answer kept it), or was stopped
                return
            await asyncio.sleep(self._check)

    async def cancel(self, stored: StoredResponse, tenant_id: str) -> dict[str, Any]:
        """Cancel a live background response (its task stops at once here, or at its next
        check on the replica answering it); an ended one is answered as it ended."""
        if not stored.body.get("background"):
            raise BadRequest("Only a background response can be cancelled; this one was not "
                             "created with background: true.", param="response_id")  # fmt: skip
        id_ = stored.body["id"]
        ended = await self._store.end(tenant_id, id_, _cancelled)
        job = self._jobs.get(id_)
        if job is not None:
            job.cancel()
        return (ended or stored).body

    async def current(self, stored: StoredResponse, tenant_id: str) -> dict[str, Any]:
        """The response as it stands: a live one whose replica stopped answering it is
        failed."""
        if not (stored.live and _stale(stored.alive_at, self._check)):
            return stored.body
        ended = await self._store.end(tenant_id, stored.body["id"], _failed)
        return (ended or stored).body

    async def stream(
        self, stored: StoredResponse, owner: StreamOwner, starting_after: int | None
    ) -> Response:
        """The response's events after `starting_after` (a sequence number), then the live
        rest, from the log of whichever replica answered it."""
        if not stored.body.get("background"):
            raise BadRequest("Only a background response can be streamed again; this one was "
                             "not created with background: true.", param="stream")  # fmt: skip
        last = None if starting_after is None else str(starting_after + 1)
        return await self._streams.resume(stored.body["id"], owner, last, BadRequest)


def _stale(alive_at: datetime | None, check_seconds: float) -> bool:
    if alive_at is None:
        return False
    return datetime.now(UTC) - alive_at > timedelta(seconds=check_seconds * STALE_CHECKS)


def _cancelled(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "status": "cancelled"}


def _failed(body: dict[str, Any]) -> dict[str, Any]:
    stopped = ServiceUnavailable("The replica answering this background response stopped "
                                 "before it ended; create it again.")  # fmt: skip
    return {**body, "status": "failed",
            "error": {"code": "server_error", "message": stopped.message}}  # fmt: skip
