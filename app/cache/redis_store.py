"""The cache in Redis, shared by every replica.

Under the prefix, per tenant and alias (`<tenant>:<alias in hex>`, so a purge is one pattern):
- `cache:e:<scope>:<key>`  an entry, expiring with its alias's `ttl_seconds`;
- `cache:v:<scope>:<partition>`  a list of the partition's vectors (a 64-character key, then
  float32s), which each replica mirrors and searches in process, reading only what it has not;
- `cache:f:<scope>:<key>`  the replica making a call others follow, and `cache:l:<scope>:<key>`
  a Redis Stream of that call's records.

Redis failing is a miss: every error is caught, counted (`errors`) and logged once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson

from app.cache.keys import Scope
from app.cache.semantic import VectorIndex
from app.cache.store import FlightRecord

if TYPE_CHECKING:  # redis is imported only where it is configured
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

_KEY_LENGTH = 64
_BLOCK_MS = 1000


class RedisCacheStore:
    shared = True

    def __init__(self, redis: Redis, prefix: str) -> None:
        from redis.exceptions import RedisError

        self._redis = redis
        self._prefix = f"{prefix}cache:"
        self._failures: tuple[type[BaseException], ...] = (RedisError, OSError)
        self._mirrors: dict[str, VectorIndex] = {}
        self.errors = 0
        self._logged_at = float("-inf")

    def _key(self, kind: str, scope: Scope, name: str) -> str:
        return f"{self._prefix}{kind}:{scope.path}:{name}"

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        if time.monotonic() - self._logged_at > 60:
            self._logged_at = time.monotonic()
            logger.warning("the answer cache's Redis failed (%s): answering as misses", exc)

    async def get(self, scope: Scope, key: str) -> bytes | None:
        try:
            return await self._redis.get(self._key("e", scope, key))
        except self._failures as exc:
            self._failed(exc)
            return None

    async def put(self, scope: Scope, key: str, value: bytes, ttl: float) -> bool:
        try:
            await self._redis.set(self._key("e", scope, key), value, px=max(1, int(ttl * 1000)))
        except self._failures as exc:
            self._failed(exc)
            return False
        return True

    async def delete(self, scope: Scope, key: str) -> None:
        try:
            await self._redis.delete(self._key("e", scope, key))
        except self._failures as exc:
            self._failed(exc)

    async def add_vector(
        self, scope: Scope, partition: str, key: str, vector: bytes, ttl: float
    ) -> None:
        name = self._key("v", scope, partition)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.rpush(name, key.encode() + vector)
                pipe.expire(name, max(1, int(ttl)))
                await pipe.execute()
        except self._failures as exc:
            self._failed(exc)

    async def nearest(
        self, scope: Scope, partition: str, vector: bytes, threshold: float
    ) -> str | None:
        name = self._key("v", scope, partition)
        index = self._mirrors.get(name)
        if index is None:
            index = self._mirrors[name] = VectorIndex()
        try:
            news = await self._redis.lrange(name, len(index), -1)
            if not news and len(index) and not await self._redis.exists(name):
                index = self._mirrors[name] = VectorIndex()  # purged, or expired
        except self._failures as exc:
            self._failed(exc)
            return None
        for item in news:
            if len(item) > _KEY_LENGTH:
                index.add(item[:_KEY_LENGTH].decode(errors="replace"), item[_KEY_LENGTH:])
        return index.nearest(vector, threshold)

    async def purge(self, tenant_id: str, alias: str | None) -> int:
        scope = Scope(tenant_id, alias).path if alias is not None else f"{tenant_id}:*"
        dropped = 0
        try:
            for kind in ("e", "v"):
                names = [name async for name in self._redis.scan_iter(
                    f"{self._prefix}{kind}:{scope}:*", count=1000)]  # fmt: skip
                for at in range(0, len(names), 500):
                    await self._redis.unlink(*names[at : at + 500])
                if kind == "e":
                    dropped = len(names)
        except self._failures as exc:
            self._failed(exc)
        self._mirrors.clear()
        return dropped

    def stored_bytes(self) -> None:
        return None

    async def claim(self, scope: Scope, key: str, ttl: float) -> bool:
        name = self._key("f", scope, key)
        try:
            claimed = await self._redis.set(name, b"1", nx=True, px=max(1, int(ttl * 1000)))
            if claimed:
                await self._redis.delete(self._key("l", scope, key))
            return bool(claimed)
        except self._failures as exc:
            self._failed(exc)
            return True  # no Redis: each replica makes its own call

    async def renew(self, scope: Scope, key: str, ttl: float) -> None:
        try:
            await self._redis.pexpire(self._key("f", scope, key), max(1, int(ttl * 1000)))
        except self._failures as exc:
            self._failed(exc)

    async def publish(self, scope: Scope, key: str, record: FlightRecord, ttl: float) -> None:
        log, claim = self._key("l", scope, key), self._key("f", scope, key)
        fields = {"r": orjson.dumps({"kind": record.kind, "data": record.data})}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.xadd(log, fields)  # type: ignore[arg-type]
                pipe.expire(log, max(1, int(ttl)))
                if record.kind != "item":
                    pipe.delete(claim)
                await pipe.execute()
        except self._failures as exc:
            self._failed(exc)

    async def follow(self, scope: Scope, key: str, silence: float) -> AsyncIterator[FlightRecord]:
        log, claim = self._key("l", scope, key), self._key("f", scope, key)
        last, quiet_since = "0-0", time.monotonic()
        while True:
            try:
                read = await self._redis.xread({log: last}, block=_BLOCK_MS, count=100)
                if not read:
                    quiet = time.monotonic() - quiet_since >= silence
                    if not quiet and await self._redis.exists(claim):
                        continue
                    read = await self._redis.xread({log: last}, count=100)  # its end, if it
                    if not read:  # ended between the two reads
                        yield FlightRecord("abandoned")
                        return
            except self._failures as exc:
                self._failed(exc)
                yield FlightRecord("abandoned")
                return
            quiet_since = time.monotonic()
            for entry_id, fields in read[0][1]:
                last = entry_id
                record = _record(fields.get(b"r"))
                yield record
                if record.kind != "item":
                    return


def _record(raw: bytes | None) -> FlightRecord:
    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return FlightRecord("abandoned")
    if not isinstance(data, dict) or data.get("kind") not in ("item", "done", "failed"):
        return FlightRecord("abandoned")
    return FlightRecord(data["kind"], data.get("data") or {})
