"""Reading uploaded documents without letting one hurt the server: each is parsed in a worker
process of its own (worker.py), with its memory, CPU time and wall time capped, a bounded
number at once. The server's event loop and threads never parse: another tenant's request is
not slowed by a bomb, and the parser's memory is freed when its process exits.

What the file's type is, the one cheap check, is answered here before admission; the reading
itself comes after it (app/api/use_cases/documents.py).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from app.documents.extract import Document, Refused, kind_of
from app.errors import BadRequest, InvalidRequest, PlatformError, UnsupportedMediaType
from app.settings import Settings

_ERRORS: dict[int, type[PlatformError]] = {
    400: BadRequest, 415: UnsupportedMediaType, 422: InvalidRequest,
}  # fmt: skip


def _error(status: int, code: str, message: str) -> PlatformError:
    return _ERRORS.get(status, BadRequest)(message, param="file", code=code)


def document_kind(filename: str, content_type: str, data: bytes) -> str:
    """PDF, DOCX, HTML or text, by the file's first bytes, name or type; else a 415."""
    try:
        return kind_of(filename, content_type, data)
    except Refused as refused:
        raise _error(refused.status, refused.code, refused.message) from None


class DocumentReader:
    def __init__(self, settings: Settings) -> None:
        self._limits = {
            "max_pages": settings.document_max_pages, "max_chars": settings.document_max_chars,
            "memory_bytes": settings.document_parse_memory_mb * 1024 * 1024,
            "cpu_seconds": settings.document_parse_seconds,
        }  # fmt: skip
        self._seconds = settings.document_parse_seconds
        self._slots = asyncio.Semaphore(settings.document_workers)

    async def read(self, filename: str, kind: str, data: bytes) -> Document:
        """The document's text, or the 4xx that says why it cannot be summarized."""
        spec = json.dumps({"filename": filename, "kind": kind, **self._limits})
        async with self._slots:
            answer = await self._run(spec, data)
        if answer is None:
            raise _error(400, "document_too_complex",
                         f"'{filename}' takes more memory or time to read than a document may "
                         f"({self._seconds:g} s); send a smaller or simpler one.")  # fmt: skip
        if "refused" in answer:
            raise _error(**answer["refused"])
        return Document(filename, kind, answer["pages"], answer["text"])

    async def _run(self, spec: str, data: bytes) -> dict[str, Any] | None:
        """The worker's answer; None if it was stopped (out of time) or died (out of memory
        or CPU time). It never outlives the call: a cancelled read kills it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.documents.worker", spec,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._seconds + 2):  # its start and its CPU limit's grace
                out, _ = await process.communicate(data)
        except TimeoutError:
            return None
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.returncode != 0:
            return None
        return json.loads(out)
