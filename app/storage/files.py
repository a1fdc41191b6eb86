"""Files kept per tenant (/v1/files and a batch's results), in the database, so that every
replica reads them: another tenant's id is not found, like one that never existed or was
deleted. A page of the list reads no file's content; files are ordered by id, which sorts as
they were made (storage/ids.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from app.storage.tables import FileRow


@dataclass(frozen=True)
class StoredFile:
    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int

    def as_object(self) -> dict[str, Any]:
        """The file as OpenAI's API shows it."""
        return {"id": self.id, "object": "file", "bytes": self.bytes,
                "created_at": self.created_at, "filename": self.filename,
                "purpose": self.purpose, "status": "processed", "expires_at": None,
                "status_details": None}  # fmt: skip


_LISTED = (FileRow.id, FileRow.filename, FileRow.purpose, FileRow.bytes, FileRow.created_at)


def file_row(tenant_id: str, stored: StoredFile, content: bytes) -> dict[str, Any]:
    """The row that keeps `stored` with its `content` (a batch's results are written so, in
    the transaction that ends the batch)."""
    return {"tenant_id": tenant_id, "content": content, **vars(stored)}


class FileStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _save(self, tenant_id: str, stored: StoredFile, content: bytes) -> None:
        with Session(self._engine) as session, session.begin():
            session.add(FileRow(**file_row(tenant_id, stored, content)))

    def _get(self, tenant_id: str, file_id: str) -> StoredFile | None:
        with Session(self._engine) as session:
            row = session.execute(
                select(*_LISTED).where(FileRow.id == file_id, FileRow.tenant_id == tenant_id)
            ).one_or_none()
        return None if row is None else StoredFile(*row)

    def _content(self, tenant_id: str, file_id: str) -> bytes | None:
        with Session(self._engine) as session:
            return session.scalar(
                select(FileRow.content).where(FileRow.id == file_id, FileRow.tenant_id == tenant_id)
            )

    def _page(
        self, tenant_id: str, limit: int, after: str | None, newest_first: bool,
        purpose: str | None,
    ) -> list[StoredFile]:  # fmt: skip
        query = select(*_LISTED).where(FileRow.tenant_id == tenant_id)
        if purpose is not None:
            query = query.where(FileRow.purpose == purpose)
        if after is not None:
            query = query.where(FileRow.id < after if newest_first else FileRow.id > after)
        query = query.order_by(FileRow.id.desc() if newest_first else FileRow.id).limit(limit)
        with Session(self._engine) as session:
            return [StoredFile(*row) for row in session.execute(query)]

    def _delete(self, tenant_id: str, file_id: str) -> bool:
        with Session(self._engine) as session, session.begin():
            result = session.execute(
                delete(FileRow).where(FileRow.id == file_id, FileRow.tenant_id == tenant_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def save(self, tenant_id: str, stored: StoredFile, content: bytes) -> None:
        await anyio.to_thread.run_sync(self._save, tenant_id, stored, content)

    async def get(self, tenant_id: str, file_id: str) -> StoredFile | None:
        return await anyio.to_thread.run_sync(self._get, tenant_id, file_id)

    async def content(self, tenant_id: str, file_id: str) -> bytes | None:
        return await anyio.to_thread.run_sync(self._content, tenant_id, file_id)

    async def page(
        self, tenant_id: str, limit: int, after: str | None, *, newest_first: bool = True,
        purpose: str | None = None,
    ) -> list[StoredFile]:  # fmt: skip
        """Up to `limit` files, newest first (or oldest), after the file `after`."""
        return await anyio.to_thread.run_sync(
            self._page, tenant_id, limit, after, newest_first, purpose
        )

    async def delete(self, tenant_id: str, file_id: str) -> bool:
        return await anyio.to_thread.run_sync(self._delete, tenant_id, file_id)
