"""Reading a multipart form (a request that uploads files): its fields, and its files read
into memory, which the body limit for uploads (`max_upload_bytes`) keeps bounded."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from app.errors import BadRequest
from app.http.json_body import media_type, wrong_media_type
from app.providers import Upload

MULTIPART = "multipart/form-data"
MAX_FILES = 16
MAX_FIELDS = 64


def is_multipart(content_type: str | None) -> bool:
    return media_type(content_type) == MULTIPART


async def read_form(request: Request, file_fields: Collection[str]) -> dict[str, Any]:
    """The form's text fields (a string each) and, for `file_fields`, the list of files each
    holds (`name` and `name[]` alike); a 400 naming the field for anything else."""
    content_type = request.headers.get("content-type")
    if not is_multipart(content_type):
        raise wrong_media_type(f"a form sent as '{MULTIPART}' (it carries files)", content_type)
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS)
    except HTTPException as exc:  # Starlette's refusal of a malformed form
        raise BadRequest(f"The form could not be read: {exc.detail}", code="invalid_form") from None
    try:
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            name = key.removesuffix("[]")
            if isinstance(value, UploadFile) != (name in file_fields):
                kind = "a file" if name in file_fields else "text, not a file"
                raise BadRequest(f"The form field '{name}' must be {kind}.", param=name)
            if isinstance(value, UploadFile):
                data = await value.read()
                kind = value.content_type or "application/octet-stream"
                values.setdefault(name, []).append(Upload(value.filename or name, kind, data))
            elif name in values:
                raise BadRequest(f"The form field '{name}' is given twice.", param=name)
            else:
                values[name] = value
        return values
    finally:
        await form.close()
