"""Kept streams in Redis, so a client reconnects to whichever replica it reaches.

Per stream, under the prefix:
- `stream:<id>`  a Redis Stream; event n is the entry with id `0-n` (fields `n`: name, `d`:
  data), and the end is an entry with field `end`. A reader catches up with XRANGE, then waits
  for new entries with a blocking XREAD: live events reach it as they are written.
- `stream:<id>:owner`  the tenant and route it belongs to.
Both expire `retention` seconds after the stream's last event, or its producer's last `keep`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson

from app.streams.log import Event, StreamOwner, stream_not_found

if TYPE_CHECKING:  # redis is imported only where it is configured
    from redis.asyncio import Redis

_BLOCK_MS = 5000  # a reader's wait for news, after which it checks the stream still exists


class RedisEventLog:
    def __init__(self, redis: Redis, prefix: str, retention: float) -> None:
        self._redis = redis
        self._prefix = f"{prefix}stream:"
        self.retention = retention
        self._ttl = max(1, round(retention))

    def _keys(self, stream_id: str) -> tuple[str, str]:
        key = f"{self._prefix}{stream_id}"
        return key, f"{key}:owner"

    async def open(self, stream_id: str, owner: StreamOwner) -> None:
        _, owner_key = self._keys(stream_id)
        value = orjson.dumps({"tenant": owner.tenant_id, "route": owner.route})
        await self._redis.set(owner_key, value, ex=self._ttl)

    async def _add(self, stream_id: str, number: int, fields: dict[str, str]) -> None:
        key, owner_key = self._keys(stream_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, fields, id=f"0-{number}")  # type: ignore[arg-type]
            pipe.expire(key, self._ttl)
            pipe.expire(owner_key, self._ttl)
            await pipe.execute()

    async def keep(self, stream_id: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in self._keys(stream_id):
                pipe.expire(key, self._ttl)
            await pipe.execute()

    async def append(self, stream_id: str, number: int, event: Event) -> None:
        await self._add(stream_id, number, {"n": event.name or "", "d": event.data})

    async def end(self, stream_id: str, number: int) -> None:
        await self._add(stream_id, number, {"end": "1"})

    async def owner(self, stream_id: str) -> StreamOwner | None:
        _, owner_key = self._keys(stream_id)
        raw = await self._redis.get(owner_key)
        if raw is None:
            return None
        stored = orjson.loads(raw)
        return StreamOwner(stored["tenant"], stored["route"])

    async def follow(self, stream_id: str, after: int) -> AsyncIterator[tuple[int, Event]]:
        key, owner_key = self._keys(stream_id)
        last = f"0-{after}"
        entries = await self._redis.xrange(key, min=f"({last}")
        while True:
            for entry_id, fields in entries:
                last = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
                if b"end" in fields:
                    return
                name = fields[b"n"].decode()
                yield int(last.split("-")[1]), Event(name or None, fields[b"d"].decode())
            entries = []
            while not entries:
                answer = await self._redis.xread({key: last}, block=_BLOCK_MS)
                if answer:
                    [(_, entries)] = answer
                elif not await self._redis.exists(owner_key):  # kept while live, if silent
                    raise stream_not_found(stream_id, self.retention)
