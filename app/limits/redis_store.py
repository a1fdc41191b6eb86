"""Limit state in Redis, shared by every replica: each check-and-reserve is one Lua script.

Per scope (a key or a tenant), under the store's prefix:
- `req:<scope>`  sorted set, admitted request ids by admission time (requests per minute);
- `run:<scope>`  sorted set, running request ids by admission time (concurrency); an entry
  older than the running lease is dropped, so a replica killed mid-request frees its slots;
- `tok:<scope>`  sorted set of request ids by admission time, and `amt:<scope>` a hash of their
  reserved (later: used) tokens (tokens per minute);
- `img:<scope>`  sorted set of `<request id>:<n>`, one member an image asked for, by admission
  time (images per minute);
- `<budget name>` a hash of `spent` and `reserved` dollars for the budget period.
Times are the callers' wall clocks (`time.time()`), so replicas need synchronised clocks (NTP).
The scripts touch several keys: on Redis Cluster, put the prefix in a hash tag (`{genai}:`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.limits.store import (
    WINDOW_SECONDS,
    BudgetScope,
    BudgetUsage,
    Denied,
    Scope,
    ScopeUsage,
    Ticket,
)

if TYPE_CHECKING:  # redis is imported only where it is configured
    from redis.asyncio import Redis

_KINDS = ("req", "run", "tok", "amt", "img")

# KEYS: per scope req, run, tok, amt, img (5 each), then the budget key (or a placeholder),
#       then the request id counter.
# ARGV: now, window, lease, requests (1 admit, 0 extend), ticket id (0: new), tokens, cost,
#       budget limit (-1: none), budget ttl, images, then per scope rpm, max_concurrent, tpm,
#       ipm (-1: none).
# Returns {"ok", id} or {"denied", scope index (1-based), limit, allowed, retry after}.
_RESERVE = """
local now, window, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local requests, id = tonumber(ARGV[4]), tonumber(ARGV[5])
local tokens, cost = tonumber(ARGV[6]), tonumber(ARGV[7])
local budget_limit, budget_ttl = tonumber(ARGV[8]), tonumber(ARGV[9])
local images = tonumber(ARGV[10])
local scopes = (#KEYS - 2) / 5
for s = 1, scopes do
  local req, run, tok, amt, img = KEYS[5*s-4], KEYS[5*s-3], KEYS[5*s-2], KEYS[5*s-1], KEYS[5*s]
  local rpm, conc = tonumber(ARGV[7+4*s]), tonumber(ARGV[8+4*s])
  local tpm, ipm = tonumber(ARGV[9+4*s]), tonumber(ARGV[10+4*s])
  redis.call('ZREMRANGEBYSCORE', req, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', img, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', run, '-inf', now - lease)
  local expired = redis.call('ZRANGEBYSCORE', tok, '-inf', now - window)
  if #expired > 0 then
    redis.call('ZREM', tok, unpack(expired))
    redis.call('HDEL', amt, unpack(expired))
  end
  if rpm >= 0 and redis.call('ZCARD', req) + requests > rpm then
    local oldest = redis.call('ZRANGE', req, 0, 0, 'WITHSCORES')
    local retry = oldest[2] and (tonumber(oldest[2]) + window - now) or 1
    -- Replicas' clocks, and callers' reads of them, race by milliseconds: never over a window.
    return {'denied', s, 'rpm', rpm, tostring(math.min(window, retry))}
  end
  if conc >= 0 and redis.call('ZCARD', run) + requests > conc then
    return {'denied', s, 'max_concurrent', conc, '1'}
  end
  if tpm >= 0 then
    local total = 0
    for _, v in ipairs(redis.call('HVALS', amt)) do total = total + tonumber(v) end
    if total + tokens > tpm then
      local excess = total + tokens - tpm
      local retry = window
      local entries = redis.call('ZRANGE', tok, 0, -1, 'WITHSCORES')
      for i = 1, #entries, 2 do
        excess = excess - tonumber(redis.call('HGET', amt, entries[i]) or '0')
        if excess <= 0 then retry = tonumber(entries[i+1]) + window - now; break end
      end
      return {'denied', s, 'tpm', tpm, tostring(math.min(window, retry))}
    end
  end
  if ipm >= 0 and images > 0 then
    local count = redis.call('ZCARD', img)
    if count + images > ipm then
      local over, retry = count + images - ipm, window  -- images that must age out
      if over <= count then
        local entry = redis.call('ZRANGE', img, over - 1, over - 1, 'WITHSCORES')
        retry = tonumber(entry[2]) + window - now
      end
      return {'denied', s, 'ipm', ipm, tostring(math.min(window, retry))}
    end
  end
end
local budget = KEYS[#KEYS - 1]
if budget_limit >= 0 then
  local spent = tonumber(redis.call('HGET', budget, 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', budget, 'reserved') or '0')
  if spent + reserved + cost > budget_limit + 1e-12 then
    return {'denied', scopes + 1, 'budget', ARGV[8], ARGV[9]}
  end
end
if id == 0 then id = redis.call('INCR', KEYS[#KEYS]) end
for s = 1, scopes do
  local req, run, tok, amt, img = KEYS[5*s-4], KEYS[5*s-3], KEYS[5*s-2], KEYS[5*s-1], KEYS[5*s]
  for n = 1, images do redis.call('ZADD', img, now, id .. ':' .. n) end
  if images > 0 then redis.call('EXPIRE', img, math.ceil(window)) end
  if requests > 0 then
    redis.call('ZADD', req, now, id)
    redis.call('ZADD', run, now, id)
    redis.call('EXPIRE', req, math.ceil(window))
    redis.call('EXPIRE', run, math.ceil(lease))
  end
  if tokens > 0 then
    redis.call('ZADD', tok, 'NX', now, id)
    redis.call('HINCRBY', amt, id, tokens)
    redis.call('EXPIRE', tok, math.ceil(window + lease))
    redis.call('EXPIRE', amt, math.ceil(window + lease))
  end
end
if budget_limit >= 0 and cost > 0 then
  redis.call('HINCRBYFLOAT', budget, 'reserved', cost)
  redis.call('EXPIRE', budget, math.ceil(budget_ttl + 86400))
end
return {'ok', id}
"""

# KEYS: per scope run, tok, amt (3 each), then the budget key (or a placeholder).
# ARGV: id, used tokens, used cost, reserved cost, has budget (1/0).
_SETTLE = """
local id, tokens = ARGV[1], tonumber(ARGV[2])
local scopes = (#KEYS - 1) / 3
for s = 1, scopes do
  local run, tok, amt = KEYS[3*s-2], KEYS[3*s-1], KEYS[3*s]
  redis.call('ZREM', run, id)
  if redis.call('ZSCORE', tok, id) then
    if tokens > 0 then
      redis.call('HSET', amt, id, tokens)
    else
      redis.call('ZREM', tok, id)
      redis.call('HDEL', amt, id)
    end
  end
end
if ARGV[5] == '1' then
  redis.call('HINCRBYFLOAT', KEYS[#KEYS], 'reserved', -tonumber(ARGV[4]))
  redis.call('HINCRBYFLOAT', KEYS[#KEYS], 'spent', ARGV[3])
end
return 1
"""


class RedisLimitStore:
    """The `LimitStore` for many replicas (`GENAI_REDIS_URL`)."""

    def __init__(self, redis: Redis, prefix: str = "genai:", running_lease: float = 900.0) -> None:
        self._redis = redis
        self._prefix = prefix
        self._lease = running_lease
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    def _key(self, kind: str, scope: str) -> str:
        return f"{self._prefix}{kind}:{scope}"

    def _budget_key(self, budget: BudgetScope | None) -> str:
        return f"{self._prefix}{budget.name}" if budget else f"{self._prefix}no-budget"

    async def _run(
        self, scopes: tuple[Scope, ...], budget: BudgetScope | None, requests: int,
        ticket_id: int, tokens: int, cost: float, now: float, images: int = 0,
    ) -> int | Denied:  # fmt: skip
        keys = [self._key(kind, scope.name) for scope in scopes for kind in _KINDS]
        limits: list[Any] = [
            -1 if value is None else value
            for scope in scopes
            for value in (scope.rpm, scope.max_concurrent, scope.tpm, scope.ipm)
        ]
        args = [
            now, WINDOW_SECONDS, self._lease, requests, ticket_id, tokens, cost,
            budget.limit_usd if budget else -1, budget.resets_in if budget else 0, images,
            *limits,
        ]  # fmt: skip
        ids = f"{self._prefix}request-ids"
        result = await self._reserve(keys=[*keys, self._budget_key(budget), ids], args=args)
        if result[0] == b"ok":
            return int(result[1])
        index, limit = int(result[1]), result[2].decode()
        name = budget.name if limit == "budget" and budget else scopes[index - 1].name
        return Denied(name, limit, float(result[3]), float(result[4]))

    async def admit(
        self, scopes: tuple[Scope, ...], budget: BudgetScope | None, tokens: int, cost: float,
        now: float, images: int = 0,
    ) -> Ticket | Denied:  # fmt: skip
        if not scopes and budget is None:
            return Ticket(id=0, scopes=scopes, budget=budget)
        result = await self._run(scopes, budget, 1, 0, tokens, cost, now, images)
        if isinstance(result, Denied):
            return result
        return Ticket(id=result, scopes=scopes, budget=budget, tokens=tokens, cost=cost)

    async def extend(self, ticket: Ticket, tokens: int, cost: float, now: float) -> Denied | None:
        if not ticket.scopes and ticket.budget is None:
            return None
        result = await self._run(ticket.scopes, ticket.budget, 0, ticket.id, tokens, cost, now)
        if isinstance(result, Denied):
            return result
        ticket.tokens += tokens
        ticket.cost += cost
        return None

    async def settle(self, ticket: Ticket, tokens: int, cost: float) -> None:
        if not ticket.scopes and ticket.budget is None:
            return
        keys = [
            self._key(kind, scope.name) for scope in ticket.scopes for kind in ("run", "tok", "amt")
        ]
        args = [ticket.id, tokens, cost, ticket.cost, 1 if ticket.budget else 0]
        await self._settle(keys=[*keys, self._budget_key(ticket.budget)], args=args)

    async def budget_known(self, budget: BudgetScope) -> bool:
        return bool(await self._redis.hexists(self._budget_key(budget), "spent"))

    async def seed_budget(self, budget: BudgetScope, spent: float) -> None:
        key = self._budget_key(budget)
        await self._redis.hsetnx(key, "spent", repr(spent))
        await self._redis.expire(key, int(budget.resets_in) + 86400)

    async def usage(self, scope: str, now: float) -> ScopeUsage:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self._key("run", scope), f"({now - self._lease}", "+inf")
            pipe.zcount(self._key("req", scope), f"({now - WINDOW_SECONDS}", "+inf")
            pipe.zrangebyscore(self._key("tok", scope), f"({now - WINDOW_SECONDS}", "+inf")
            pipe.zcount(self._key("img", scope), f"({now - WINDOW_SECONDS}", "+inf")
            running, requests, ids, images = await pipe.execute()
        amounts = await self._redis.hmget(self._key("amt", scope), ids) if ids else []
        tokens = sum(int(amount) for amount in amounts if amount)
        return ScopeUsage(running, requests, tokens, images)

    async def budget_usage(self, budget: BudgetScope) -> BudgetUsage:
        spent, reserved = await self._redis.hmget(self._budget_key(budget), ["spent", "reserved"])
        return BudgetUsage(float(spent or 0.0), max(0.0, float(reserved or 0.0)))
