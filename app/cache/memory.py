"""The cache kept in this process: entries in least-recently-used order, bounded in bytes."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

from app.cache.keys import Scope
from app.cache.semantic import VectorIndex
from app.cache.store import FlightRecord

Place = tuple[str, str]  # the scope's path and the key


class MemoryCacheStore:
    """Entries and vector indexes, evicted least recently used first once they hold more than
    `max_bytes`; each entry forgotten `ttl` seconds after it was put (by `clock`)."""

    shared = False

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[Place, tuple[bytes, float]] = OrderedDict()
        self._indexes: OrderedDict[Place, VectorIndex] = OrderedDict()
        self._bytes = 0

    async def get(self, scope: Scope, key: str) -> bytes | None:
        place = (scope.path, key)
        found = self._entries.get(place)
        if found is None:
            return None
        value, deadline = found
        if self._clock() >= deadline:
            self._drop(place)
            return None
        self._entries.move_to_end(place)
        return value

    async def put(self, scope: Scope, key: str, value: bytes, ttl: float) -> bool:
        if len(value) > self._max_bytes:
            return False  # it would push every other entry out, then itself
        place = (scope.path, key)
        self._drop(place)
        self._entries[place] = (value, self._clock() + ttl)
        self._bytes += len(value)
        self._evict()
        return place in self._entries

    async def delete(self, scope: Scope, key: str) -> None:
        self._drop((scope.path, key))

    def _drop(self, place: Place) -> None:
        found = self._entries.pop(place, None)
        if found is not None:
            self._bytes -= len(found[0])

    def _evict(self) -> None:
        while self._bytes > self._max_bytes and self._entries:
            _, (value, _) = self._entries.popitem(last=False)
            self._bytes -= len(value)
        while self._bytes > self._max_bytes and self._indexes:
            _, index = self._indexes.popitem(last=False)
            self._bytes -= _index_bytes(len(index))

    async def add_vector(
        self, scope: Scope, partition: str, key: str, vector: bytes, ttl: float
    ) -> None:
        place = (scope.path, partition)
        index = self._indexes.get(place)
        if index is None:
            index = self._indexes[place] = VectorIndex()
        self._indexes.move_to_end(place)
        index.add(key, vector)
        self._bytes += _index_bytes(1, len(vector))
        self._evict()

    async def nearest(
        self, scope: Scope, partition: str, vector: bytes, threshold: float
    ) -> str | None:
        index = self._indexes.get((scope.path, partition))
        return None if index is None else index.nearest(vector, threshold)

    async def purge(self, tenant_id: str, alias: str | None) -> int:
        path = Scope(tenant_id, alias).path if alias is not None else None
        dropped = 0
        for place in list(self._entries):
            if place[0] == path or (path is None and place[0].split(":")[0] == tenant_id):
                self._drop(place)
                dropped += 1
        for place in list(self._indexes):
            if place[0] == path or (path is None and place[0].split(":")[0] == tenant_id):
                self._bytes -= _index_bytes(len(self._indexes.pop(place)))
        return dropped

    def stored_bytes(self) -> int:
        return self._bytes

    # A replica's own calls in flight are shared in process (the dispatcher's flights).
    async def claim(self, scope: Scope, key: str, ttl: float) -> bool:
        return True

    async def renew(self, scope: Scope, key: str, ttl: float) -> None:
        return None

    async def publish(self, scope: Scope, key: str, record: FlightRecord, ttl: float) -> None:
        return None

    async def follow(self, scope: Scope, key: str, silence: float) -> AsyncIterator[FlightRecord]:
        yield FlightRecord("abandoned")


def _index_bytes(entries: int, width: int = 384 * 4) -> int:
    return entries * (width + 64)
