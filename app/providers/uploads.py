"""Files a request sends on to a provider (an image to edit), and the multipart form that
carries them: built anew for every attempt, as aiohttp sends a form once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # never the bytes, in a log line or a trace
        return f"Upload({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


def has_uploads(payload: Mapping[str, Any]) -> bool:
    for value in payload.values():
        if isinstance(value, Upload):
            return True
        if isinstance(value, list) and value and isinstance(value[0], Upload) and _uploads(value):
            return True  # (a list of messages is not looked into: its first item tells)
    return False


def _uploads(value: Any) -> list[Upload]:
    if isinstance(value, Upload):
        return [value]
    if isinstance(value, list) and value and isinstance(value[0], Upload):
        return value if all(isinstance(item, Upload) for item in value) else []
    return []


def form_data(payload: Mapping[str, Any]) -> aiohttp.FormData:
    """`payload` as multipart/form-data: files as file parts (several under `name[]`, as
    OpenAI takes them), other values as text (JSON's spelling for booleans)."""
    form = aiohttp.FormData()
    for name, value in payload.items():
        uploads = _uploads(value)
        if uploads:
            field = f"{name}[]" if isinstance(value, list) and len(uploads) > 1 else name
            for upload in uploads:
                form.add_field(field, upload.data, filename=upload.filename,
                               content_type=upload.content_type)  # fmt: skip
        elif value is not None:
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            form.add_field(name, text)
    return form
