"""What a cache store does, in this process or in Redis (the module doc of the package)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from app.cache.keys import Scope

RecordKind = Literal["item", "done", "failed", "abandoned"]


@dataclass(frozen=True)
class FlightRecord:
    """One step of a call in flight as another replica's followers read it: an item (a
    stream's chunk, or the whole answer), then how it ended."""

    kind: RecordKind
    data: dict[str, Any] = field(default_factory=dict)


class CacheStore(Protocol):
    #: Shared by every replica: a call in flight on one is followed from the others.
    shared: bool

    async def get(self, scope: Scope, key: str) -> bytes | None: ...

    async def put(self, scope: Scope, key: str, value: bytes, ttl: float) -> bool:
        """Keep `value` for `ttl` seconds: whether it was kept."""

    async def delete(self, scope: Scope, key: str) -> None: ...

    async def add_vector(
        self, scope: Scope, partition: str, key: str, vector: bytes, ttl: float
    ) -> None:
        """Index entry `key` by `vector` (float32) among its partition's (semantic lookups)."""

    async def nearest(
        self, scope: Scope, partition: str, vector: bytes, threshold: float
    ) -> str | None:
        """The key of the partition's entry most similar to `vector`, if at `threshold`."""

    async def purge(self, tenant_id: str, alias: str | None) -> int:
        """Drop a tenant's entries (of one alias, or all); how many were dropped."""

    def stored_bytes(self) -> int | None:
        """The bytes this replica keeps (None: kept elsewhere, in Redis)."""

    # --- calls in flight, followed across replicas (a shared store's) ----------------------

    async def claim(self, scope: Scope, key: str, ttl: float) -> bool:
        """Whether this replica may make the call: no other is making it."""

    async def renew(self, scope: Scope, key: str, ttl: float) -> None:
        """Keep this replica's claim for `ttl` seconds more."""

    async def publish(self, scope: Scope, key: str, record: FlightRecord, ttl: float) -> None: ...

    def follow(self, scope: Scope, key: str, silence: float) -> AsyncIterator[FlightRecord]:
        """The call's records from its first, as they come; `abandoned` once its replica no
        longer claims it (it died), or after `silence` seconds without a record."""
