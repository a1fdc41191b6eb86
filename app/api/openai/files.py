"""/v1/files in OpenAI's protocol: files a tenant uploads (a batch's input) and the files its
batches write (their results), kept in the database so that every replica serves them."""

from __future__ import annotations

import time
import unicodedata
from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from app.api.model_calls import validated
from app.errors import BadRequest, NotFound, PayloadTooLarge
from app.http.uploads import read_form
from app.providers import Upload
from app.storage.files import FileStore, StoredFile
from app.storage.ids import ordered_id
from app.tenants.models import Principal

#: The purposes a client may upload a file for (OpenAI's); the platform's batches read "batch".
Purpose = Literal["batch", "assistants", "fine-tune", "vision", "user_data", "evals"]
_FILENAME_CHARS = 255


class FileUpload(BaseModel):
    """A file to keep, as a multipart form: the file, and what it is for."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    file: list[Annotated[Upload, WithJsonSchema({"type": "string", "format": "binary"})]] = Field(
        min_length=1, max_length=1
    )
    purpose: Purpose


def shown_filename(given: str) -> str:
    """The name a file is kept under: control characters (a NUL, a newline) made `_`, at most
    255 characters."""
    kept = "".join("_" if unicodedata.category(c).startswith("C") else c for c in given)
    return kept[:_FILENAME_CHARS] or "file"


def file_not_found(file_id: str, param: str = "file_id") -> NotFound:
    return NotFound(f"No such file: '{file_id}' (it was never uploaded by you, or was "
                    "deleted); GET /v1/files lists yours.", param=param,
                    code="file_not_found")  # fmt: skip


class FilesServing:
    def __init__(self, store: FileStore, max_file_bytes: int) -> None:
        self._store = store
        self._max_bytes = max_file_bytes

    async def upload(self, request: Request, principal: Principal) -> dict[str, Any]:
        form = validated(FileUpload, await read_form(request, ("file",)))
        upload = form.file[0]
        if not upload.data:
            raise BadRequest(f"The file '{upload.filename}' is empty; send a file with "
                             "content.", param="file", code="empty_file")  # fmt: skip
        if len(upload.data) > self._max_bytes:
            raise PayloadTooLarge(
                f"The file '{upload.filename}' has {len(upload.data)} bytes, more than the "
                f"{self._max_bytes} a file may have; split it (or raise GENAI_MAX_FILE_BYTES).",
                param="file", code="file_too_large",
            )  # fmt: skip
        stored = StoredFile(ordered_id("file-"), shown_filename(upload.filename), form.purpose,
                            len(upload.data), int(time.time()))  # fmt: skip
        await self._store.save(principal.tenant.id, stored, upload.data)
        return stored.as_object()

    async def listed(
        self, principal: Principal, *, after: str | None, limit: int,
        order: Literal["asc", "desc"], purpose: str | None,
    ) -> dict[str, Any]:  # fmt: skip
        """A page of the tenant's files, newest first unless `order` is asc."""
        page = await self._store.page(principal.tenant.id, limit + 1, after,
                                      newest_first=order == "desc", purpose=purpose)  # fmt: skip
        shown = [stored.as_object() for stored in page[:limit]]
        return {"object": "list", "data": shown, "has_more": len(page) > limit,
                "first_id": shown[0]["id"] if shown else None,
                "last_id": shown[-1]["id"] if shown else None}  # fmt: skip

    async def get(self, principal: Principal, file_id: str) -> dict[str, Any]:
        stored = await self._store.get(principal.tenant.id, file_id)
        if stored is None:
            raise file_not_found(file_id)
        return stored.as_object()

    async def content(self, principal: Principal, file_id: str) -> Response:
        content = await self._store.content(principal.tenant.id, file_id)
        if content is None:
            raise file_not_found(file_id)
        return Response(content, media_type="application/octet-stream")

    async def delete(self, principal: Principal, file_id: str) -> dict[str, Any]:
        if not await self._store.delete(principal.tenant.id, file_id):
            raise file_not_found(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    async def read(
        self, principal: Principal, file_id: str, param: str
    ) -> tuple[StoredFile, bytes]:
        """A file of the tenant's and its content, or a 404 naming `param`."""
        stored = await self._store.get(principal.tenant.id, file_id)
        content = await self._store.content(principal.tenant.id, file_id) if stored else None
        if stored is None or content is None:
            raise file_not_found(file_id, param)
        return stored, content
