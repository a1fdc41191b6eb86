"""Tenants and keys in the database: create, list, update, revoke, authenticate."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import InvalidRequest, NotFound, Unauthorized
from app.storage.tables import ApiKeyRow, TenantRow
from app.tenants.keys import KeyHasher, key_id_of, new_key
from app.tenants.models import (
    ApiKey,
    CreatedKey,
    KeyCreate,
    Principal,
    Tenant,
    TenantChanges,
    TenantCreate,
)

INVALID_KEY = "The API key is missing, unknown, revoked or expired; send a valid key."


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey.model_validate(row, from_attributes=True)


def _tenant(row: TenantRow) -> Tenant:
    return Tenant.model_validate(row, from_attributes=True)


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Known:
    secret_hash: str
    principal: Principal
    fresh_until: float


class TenantService:
    def __init__(self, engine: Engine, hasher: KeyHasher, cache_seconds: float = 2.0) -> None:
        self._engine = engine
        self._hasher = hasher
        # Keys seen lately, so most requests authenticate without a database round trip. A
        # change made through this service applies at once (the cache is cleared); one made
        # by another process (a replica, the CLI) within `cache_seconds`.
        self._cache_seconds = cache_seconds
        self._known: dict[str, _Known] = {}
        self._refreshing: set[str] = set()  # keys being read again in the background

    # --- tenants -------------------------------------------------------------------------

    def create_tenant(self, spec: TenantCreate) -> Tenant:
        values = spec.model_dump(exclude_none=True)
        values.setdefault("name", spec.id)
        values.setdefault("budget_period", "month")
        row = TenantRow(**values, created_at=datetime.now(UTC))
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise InvalidRequest(
                f"A tenant '{spec.id}' exists already; choose another id.",
                param="id",
                code="tenant_exists",
            ) from None
        return _tenant(row)

    def list_tenants(self) -> list[Tenant]:
        with Session(self._engine) as session:
            return [_tenant(row) for row in session.scalars(select(TenantRow).order_by("id"))]

    def get_tenant(self, tenant_id: str) -> Tenant:
        with Session(self._engine) as session:
            row = session.get(TenantRow, tenant_id)
            if row is None:
                raise NotFound(f"No tenant '{tenant_id}'.", code="tenant_not_found")
            return _tenant(row)

    def update_tenant(self, tenant_id: str, changes: TenantChanges) -> Tenant:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            row = session.get(TenantRow, tenant_id)
            if row is None:
                raise NotFound(f"No tenant '{tenant_id}'.", code="tenant_not_found")
            for field, value in changes.model_dump(exclude_unset=True).items():
                setattr(row, field, value)
        self._known.clear()
        return _tenant(row)

    def has_tenants(self) -> bool:
        with Session(self._engine) as session:
            return session.scalars(select(TenantRow.id).limit(1)).first() is not None

    # --- keys ----------------------------------------------------------------------------

    def create_key(self, tenant_id: str, spec: KeyCreate) -> CreatedKey:
        self.get_tenant(tenant_id)
        created = new_key()
        row = ApiKeyRow(
            id=created.id,
            tenant_id=tenant_id,
            secret_hash=self._hasher.hash(created.raw),
            created_at=datetime.now(UTC),
            **spec.model_dump(),
        )
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            session.add(row)
        return CreatedKey(**_key(row).model_dump(), key=created.raw)

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.tenant_id, ApiKeyRow.created_at)
        if tenant_id is not None:
            query = query.where(ApiKeyRow.tenant_id == tenant_id)
        with Session(self._engine) as session:
            return [_key(row) for row in session.scalars(query)]

    def revoke_key(self, key_id: str, tenant_id: str | None = None) -> ApiKey:
        """Revoke a key; with tenant_id, only a key of that tenant (others are not found)."""
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            row = session.get(ApiKeyRow, key_id)
            if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
                raise NotFound(f"No key '{key_id}'.", code="key_not_found")
            row.revoked_at = row.revoked_at or datetime.now(UTC)
        self._known.clear()
        return _key(row)

    # --- authentication ------------------------------------------------------------------

    def _load(self, key_id: str) -> _Known | None:
        """A key and its tenant as stored now (and remembered for `cache_seconds`)."""
        with Session(self._engine) as session:
            found = session.execute(
                select(ApiKeyRow, TenantRow)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .where(ApiKeyRow.id == key_id)
            ).first()
        if found is None:
            return None
        key_row, tenant_row = found
        principal = Principal(tenant=_tenant(tenant_row), key=_key(key_row))
        known = _Known(key_row.secret_hash, principal, time.monotonic() + self._cache_seconds)
        self._known[key_id] = known
        return known

    def _cached(self, key_id: str) -> _Known | None:
        known = self._known.get(key_id)
        return known if known is not None and known.fresh_until > time.monotonic() else None

    def _check(self, known: _Known | None, raw_key: str | None) -> Principal:
        """The caller a key stands for; raw_key, when given, must match the stored hash."""
        if known is None:
            raise Unauthorized(INVALID_KEY)
        if raw_key is not None and not self._hasher.matches(raw_key, known.secret_hash):
            raise Unauthorized(INVALID_KEY)
        key = known.principal.key
        now = datetime.now(UTC)
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
            raise Unauthorized(INVALID_KEY)
        return known.principal

    def principal_for_key_id(self, key_id: str) -> Principal:
        """For a key id the server itself vouched for (a signed session cookie)."""
        return self._check(self._cached(key_id) or self._load(key_id), raw_key=None)

    def authenticate(self, raw_key: str) -> Principal:
        key_id = key_id_of(raw_key)
        if key_id is None:
            raise Unauthorized(INVALID_KEY)
        return self._check(self._cached(key_id) or self._load(key_id), raw_key)

    async def aauthenticate(self, raw_key: str) -> Principal:
        """As `authenticate`; a key seen within `cache_seconds` needs no database round trip."""
        key_id = key_id_of(raw_key)
        known = self._cached(key_id) if key_id else None
        if known is not None:
            self._refresh_ahead(key_id, known)
            return self._check(known, raw_key)
        return await _in_thread(self.authenticate, raw_key)

    async def aprincipal_for_key_id(self, key_id: str) -> Principal:
        known = self._cached(key_id)
        if known is not None:
            self._refresh_ahead(key_id, known)
            return self._check(known, raw_key=None)
        return await _in_thread(self.principal_for_key_id, key_id)

    def _refresh_ahead(self, key_id: str, known: _Known) -> None:
        """A key in use is read again in the background once half its freshness has gone, so
        that its requests do not wait on the database; a record is still trusted for
        `cache_seconds` at most, so a revocation applies as soon as before."""
        if known.fresh_until - time.monotonic() > self._cache_seconds / 2:
            return
        if key_id in self._refreshing:
            return
        self._refreshing.add(key_id)
        reading = asyncio.get_running_loop().run_in_executor(None, self._load, key_id)
        reading.add_done_callback(lambda read: self._refreshed(key_id, read))

    def _refreshed(self, key_id: str, read: asyncio.Future[_Known | None]) -> None:
        self._refreshing.discard(key_id)
        if not read.cancelled() and read.exception() is not None:  # the next request retries
            logger.warning("could not read key %s again: %s", key_id, read.exception())


async def _in_thread(read: Callable[[str], Principal], argument: str) -> Principal:
    """A database read off the event loop: the loop's executor, one suspension (anyio's
    to_thread takes three, each resuming the whole middleware stack)."""
    return await asyncio.get_running_loop().run_in_executor(None, read, argument)
