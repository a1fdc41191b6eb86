"""Circuit breakers per deployment: one that keeps failing is skipped for a cool-down.

closed ──(threshold consecutive failures)──▶ open ──(cool-down over)──▶ half-open
   ▲                                                                       │
   └──────────────(the one trial request succeeds; fails: open again)──────┘

`CircuitBreakers` keeps the state in this process; `RedisCircuitBreakers` keeps it in Redis,
so every replica skips a failing deployment together. Failure counts for metrics are always
this process's own (a Prometheus counter per replica).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # redis is imported only where it is configured
    from redis.asyncio import Redis


State = Literal["closed", "open", "half_open"]


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    trial_running: bool = False


class CircuitBreakers:
    def __init__(
        self,
        threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self.failures_total: dict[str, int] = {}

    def _state(self, opened_at: float | None) -> State:
        if opened_at is None:
            return "closed"
        return "open" if self._clock() - opened_at < self.cooldown else "half_open"

    def _retry_after(self, opened_at: float | None) -> float:
        return 0.0 if opened_at is None else max(0.0, opened_at + self.cooldown - self._clock())

    def _opened_at(self, name: str) -> float | None:
        circuit = self._circuits.get(name)
        return circuit.opened_at if circuit else None

    async def states(self, names: Iterable[str]) -> dict[str, State]:
        return {name: self._state(self._opened_at(name)) for name in names}

    async def allow(self, name: str) -> bool:
        """May a request go to this deployment now? In half-open, only one trial at a time."""
        state = self._state(self._opened_at(name))
        if state == "closed":
            return True
        circuit = self._circuits[name]
        if state == "half_open" and not circuit.trial_running:
            circuit.trial_running = True
            return True
        return False

    async def retry_after(self, name: str) -> float:
        return self._retry_after(self._opened_at(name))

    async def abandoned(self, name: str) -> None:
        """A request ended neither way (cancelled, refused): free the half-open trial."""
        circuit = self._circuits.get(name)
        if circuit is not None:
            circuit.trial_running = False

    async def succeeded(self, name: str) -> None:
        self._circuits.pop(name, None)

    async def failed(self, name: str) -> None:
        self.failures_total[name] = self.failures_total.get(name, 0) + 1
        circuit = self._circuits.setdefault(name, _Circuit())
        circuit.failures += 1
        circuit.trial_running = False
        if circuit.failures >= self.threshold or circuit.opened_at is not None:
            circuit.opened_at = self._clock()


# KEYS: the circuit's hash. ARGV: now, cool-down. A trial older than the cool-down counts as
# abandoned (its replica may have died holding it).
_ALLOW = """
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if not opened then return 1 end
local now, cooldown = tonumber(ARGV[1]), tonumber(ARGV[2])
if now - tonumber(opened) < cooldown then return 0 end
local trial = redis.call('HGET', KEYS[1], 'trial')
if trial and now - tonumber(trial) < cooldown then return 0 end
redis.call('HSET', KEYS[1], 'trial', ARGV[1])
return 1
"""

# KEYS: the circuit's hash. ARGV: now, threshold, key lifetime.
_FAILED = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HDEL', KEYS[1], 'trial')
if failures >= tonumber(ARGV[2]) or redis.call('HEXISTS', KEYS[1], 'opened_at') == 1 then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return failures
"""


class RedisCircuitBreakers(CircuitBreakers):
    """Breaker state shared by every replica (`GENAI_REDIS_URL`), on wall-clock time."""

    def __init__(
        self, redis: Redis, prefix: str = "genai:", threshold: int = 3, cooldown: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        super().__init__(threshold, cooldown, clock)
        self._redis = redis
        self._prefix = prefix
        self._allow = redis.register_script(_ALLOW)
        self._failed = redis.register_script(_FAILED)

    def _key(self, name: str) -> str:
        return f"{self._prefix}circuit:{name}"

    async def states(self, names: Iterable[str]) -> dict[str, State]:
        names = list(names)
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hget(self._key(name), "opened_at")
            opened = await pipe.execute()
        return {
            n: self._state(None if o is None else float(o))
            for n, o in zip(names, opened, strict=True)
        }

    async def allow(self, name: str) -> bool:
        return bool(await self._allow(keys=[self._key(name)], args=[self._clock(), self.cooldown]))

    async def retry_after(self, name: str) -> float:
        opened = await self._redis.hget(self._key(name), "opened_at")
        return self._retry_after(None if opened is None else float(opened))

    async def abandoned(self, name: str) -> None:
        await self._redis.hdel(self._key(name), "trial")

    async def succeeded(self, name: str) -> None:
        await self._redis.delete(self._key(name))

    async def failed(self, name: str) -> None:
        self.failures_total[name] = self.failures_total.get(name, 0) + 1
        lifetime = int(self.cooldown * 10) + 60
        await self._failed(keys=[self._key(name)], args=[self._clock(), self.threshold, lifetime])
