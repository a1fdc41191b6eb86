"""Every table of the platform, in one place; `migrations/` creates them (Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.storage.database import Base


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:  # naive moments are UTC already
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TenantRow(Base):
    """A client app: its allow-lists, limits and budget."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    allowed_routes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ipm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_concurrent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    budget_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    budget_period: Mapped[str] = mapped_column(String(8), default="month")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Its own answer cache mode (`exact`, `semantic`, `off`); None: its aliases'.
    cache: Mapped[str | None] = mapped_column("cache_mode", String(16), nullable=True)
    #: Its guardrail policy (app/settings/guardrails.py), as JSON; None: none of its own.
    guardrails: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The shared tools (/mcp's gateway) it may call: `server.tool` or `server.*`; None: none.
    allowed_tools: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    tool_rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ToolServerRow(Base):
    """An upstream MCP server whose tools /mcp re-exposes under its name, with the headers
    (credentials) the platform sends it, kept sealed (app/storage/sealed.py)."""

    __tablename__ = "tool_servers"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    sealed_headers: Mapped[str] = mapped_column(Text)
    timeout_seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKeyRow(Base):
    """A key of a tenant; only a keyed hash of its secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    rpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tpm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ipm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_concurrent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    guardrails: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class BrowserSessionRow(Base):
    """A browser signed in with a key: only a keyed hash of its cookie's token is stored, and
    signing out deletes it, on every replica at once."""

    __tablename__ = "browser_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsageRow(Base):
    """One request in the usage ledger."""

    __tablename__ = "usage"
    __table_args__ = (Index("ix_usage_tenant_created", "tenant_id", "created_at"),)
    #: A request's row is written once (a batch's line run again after its replica died).
    written_once_by = "request_id"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)  # the platform's own
    client_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    route: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64), nullable=True)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    token_source: Mapped[str] = mapped_column(String(16))
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    images: Mapped[int] = mapped_column(Integer, default=0)
    deployments: Mapped[str | None] = mapped_column(String(512), nullable=True)
    continued: Mapped[bool] = mapped_column(Boolean, default=False)
    hedged: Mapped[bool] = mapped_column(Boolean, default=False)
    prompt: Mapped[str | None] = mapped_column(String(64), nullable=True)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[int] = mapped_column(Integer)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The batch the request is a line of, and the line's `custom_id`.
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    custom_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: What the answer cache did for it, what that saved, and the request that paid for it.
    cache: Mapped[str | None] = mapped_column(String(16), nullable=True)
    saved_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    paid_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: What the guardrails did, `{"request.email.mask": 2, ...}`: counts, never values.
    guardrails: Mapped[dict[str, int] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    #: How it came in when not as HTTP to its route: `mcp` (a tool call on /mcp).
    via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: The shared tool a call on /mcp's gateway ran (`server.tool`); None: not a tool call.
    tool: Mapped[str | None] = mapped_column(String(128), nullable=True)

    def as_dict(self) -> dict[str, Any]:
        return {column.name: getattr(self, column.name) for column in self.__table__.columns}


class ChatMessageRow(Base):
    """One message of a chat session kept by the server, scoped to a tenant."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_session", "tenant_id", "session_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ResponseRow(Base):
    """A response of /v1/responses kept for its tenant (`store`): what it answered, and the
    whole conversation it answered (its input after its previous response's), so that a
    follow-up on any replica reads one row."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The body's status, to be changed only while it is live (queued or in_progress).
    status: Mapped[str] = mapped_column(String(16), server_default="completed")
    #: When the replica working on a live background response last showed it still was.
    alive_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class FileRow(Base):
    """A file a tenant uploaded (/v1/files), or a batch's output, kept in the database so
    that every replica reads it."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_tenant", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(512))
    purpose: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(Integer)  # Unix seconds, as the API shows it


class BatchRow(Base):
    """A batch job (/v1/batches): its state, counts and moments (Unix seconds, as the API
    shows them). `ending` is the status it ends in once its open lines are settled."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_tenant", "tenant_id", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(64))
    input_file_id: Mapped[str] = mapped_column(String(64))
    completion_window: Mapped[str] = mapped_column(String(8))
    batch_metadata: Mapped[dict[str, str] | None] = mapped_column("metadata", JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    ending: Mapped[str] = mapped_column(String(16), default="completed")
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    output_file_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_file_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer)
    in_progress_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finalizing_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ended_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancelling_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When lines were last claimed from it: the batch claimed from least recently goes next.
    turn_at: Mapped[float] = mapped_column(Float, default=0.0)
    #: Until when a replica finalizing it holds it (one that died lets it go).
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class BatchLineRow(Base):
    """One request of a batch: pending, leased by a replica working on it, or settled (done,
    failed, or not run) with the line of the output or error file it answers with."""

    __tablename__ = "batch_lines"
    __table_args__ = (Index("ix_batch_lines_state", "batch_id", "state"),)

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    custom_id: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8), default="pending")
    lease: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
