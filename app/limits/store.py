"""Where limit state lives: one small interface, an in-process implementation.

Requests, tokens and images are counted over a sliding 60-second window, so no burst can slip
through at a window boundary. Images count as they are asked for (a request for 4 counts 4).
Tokens and dollars are *reserved* when a request is admitted (an upper bound) and *settled* to
what was used when it ends; every check-and-reserve is one atomic step (here: no await inside
it on one event loop; Redis will use a Lua script)."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Scope:
    """A key or a tenant, with its limits (None: unlimited)."""

    name: str
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None
    ipm: int | None = None

    @property
    def limited(self) -> bool:
        return (self.rpm, self.tpm, self.max_concurrent, self.ipm) != (None, None, None, None)


@dataclass(frozen=True)
class BudgetScope:
    name: str
    limit_usd: float
    resets_in: float


@dataclass(frozen=True)
class Denied:
    """Which limit refused, and how many seconds until retrying can succeed."""

    scope: str
    limit: str  # "rpm" | "tpm" | "max_concurrent" | "ipm" | "budget"
    allowed: float
    retry_after: float


@dataclass(frozen=True)
class ScopeUsage:
    """What a key or tenant uses now: requests running, and requests, tokens and images in the
    window (tokens reserved by running requests included)."""

    running: int = 0
    requests: int = 0
    tokens: int = 0
    images: int = 0


@dataclass(frozen=True)
class BudgetUsage:
    spent_usd: float = 0.0
    reserved_usd: float = 0.0  # by requests still running


@dataclass
class Ticket:
    """An admitted request's reservation."""

    id: int
    scopes: tuple[Scope, ...]
    budget: BudgetScope | None
    tokens: int = 0
    cost: float = 0.0


class LimitStore(Protocol):
    async def admit(
        self, scopes: tuple[Scope, ...], budget: BudgetScope | None, tokens: int, cost: float,
        now: float, images: int = 0,
    ) -> Ticket | Denied: ...  # fmt: skip

    async def extend(self, ticket: Ticket, tokens: int, cost: float, now: float) -> Denied | None:
        """Reserve more for an admitted request."""

    async def settle(self, ticket: Ticket, tokens: int, cost: float) -> None:
        """Replace the reservation by what was used; the request no longer counts as running."""

    async def budget_known(self, budget: BudgetScope) -> bool: ...

    async def seed_budget(self, budget: BudgetScope, spent: float) -> None:
        """Start a budget period's spending from the ledger (first use after a start)."""

    async def usage(self, scope: str, now: float) -> ScopeUsage:
        """What a tracked key or tenant uses now (zeros if it is not tracked)."""

    async def budget_usage(self, budget: BudgetScope) -> BudgetUsage: ...


@dataclass
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int, int]] = field(default_factory=deque)  # (at, ticket, tokens)
    images: deque[float] = field(default_factory=deque)  # one entry an image
    running: int = 0

    def prune(self, now: float) -> None:
        horizon = now - WINDOW_SECONDS
        while self.requests and self.requests[0] <= horizon:
            self.requests.popleft()
        while self.images and self.images[0] <= horizon:
            self.images.popleft()
        while self.tokens and self.tokens[0][0] <= horizon:
            self.tokens.popleft()

    def token_total(self) -> int:
        return sum(entry[2] for entry in self.tokens)

    def seconds_until_tokens_free(self, needed: int, limit: int, now: float) -> float:
        excess = self.token_total() + needed - limit
        for at, _, tokens in self.tokens:
            excess -= tokens
            if excess <= 0:
                return at + WINDOW_SECONDS - now
        return WINDOW_SECONDS


class InMemoryLimitStore:
    """Limit state of one process (the default; shared state needs the Redis store)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._spent: dict[str, float] = {}
        self._reserved: dict[str, float] = {}
        self._ids = itertools.count(1)

    def _window(self, name: str, now: float) -> _Window:
        window = self._windows.setdefault(name, _Window())
        window.prune(now)
        return window

    def _check(
        self, scopes: tuple[Scope, ...], budget: BudgetScope | None, requests: int, tokens: int,
        cost: float, now: float, images: int = 0,
    ) -> Denied | None:  # fmt: skip
        for scope in scopes:
            window = self._window(scope.name, now)
            if scope.rpm is not None and len(window.requests) + requests > scope.rpm:
                retry = window.requests[0] + WINDOW_SECONDS - now if window.requests else 1.0
                return Denied(scope.name, "rpm", scope.rpm, retry)
            if (
                scope.max_concurrent is not None
                and window.running + requests > scope.max_concurrent
            ):
                return Denied(scope.name, "max_concurrent", scope.max_concurrent, 1.0)
            if scope.tpm is not None and window.token_total() + tokens > scope.tpm:
                retry = window.seconds_until_tokens_free(tokens, scope.tpm, now)
                return Denied(scope.name, "tpm", scope.tpm, retry)
            if scope.ipm is not None and len(window.images) + images > scope.ipm:
                over = len(window.images) + images - scope.ipm  # images that must age out
                at = window.images[over - 1] if over <= len(window.images) else now
                return Denied(scope.name, "ipm", scope.ipm, at + WINDOW_SECONDS - now)
        if budget is not None:
            committed = self._spent.get(budget.name, 0.0) + self._reserved.get(budget.name, 0.0)
            if committed + cost > budget.limit_usd + 1e-12:
                return Denied(budget.name, "budget", budget.limit_usd, budget.resets_in)
        return None

    def _reserve(self, ticket: Ticket, tokens: int, cost: float, now: float) -> None:
        for scope in ticket.scopes:
            if tokens:
                self._windows[scope.name].tokens.append((now, ticket.id, tokens))
        if ticket.budget is not None:
            name = ticket.budget.name
            self._reserved[name] = self._reserved.get(name, 0.0) + cost
        ticket.tokens += tokens
        ticket.cost += cost

    async def admit(
        self, scopes: tuple[Scope, ...], budget: BudgetScope | None, tokens: int, cost: float,
        now: float, images: int = 0,
    ) -> Ticket | Denied:  # fmt: skip
        denied = self._check(scopes, budget, 1, tokens, cost, now, images)
        if denied is not None:
            return denied
        ticket = Ticket(id=next(self._ids), scopes=scopes, budget=budget)
        for scope in scopes:
            window = self._windows[scope.name]
            window.requests.append(now)
            window.images.extend([now] * images)
            window.running += 1
        self._reserve(ticket, tokens, cost, now)
        return ticket

    async def extend(self, ticket: Ticket, tokens: int, cost: float, now: float) -> Denied | None:
        denied = self._check(ticket.scopes, ticket.budget, 0, tokens, cost, now)
        if denied is None:
            self._reserve(ticket, tokens, cost, now)
        return denied

    async def settle(self, ticket: Ticket, tokens: int, cost: float) -> None:
        for scope in ticket.scopes:
            window = self._windows[scope.name]
            window.running -= 1
            mine = [index for index, entry in enumerate(window.tokens) if entry[1] == ticket.id]
            for index in reversed(mine[1:]):
                del window.tokens[index]
            if mine:  # the used tokens count from when the request was admitted
                first = mine[0]
                if tokens:
                    window.tokens[first] = (window.tokens[first][0], ticket.id, tokens)
                else:
                    del window.tokens[first]
        if ticket.budget is not None:
            name = ticket.budget.name
            self._reserved[name] = self._reserved.get(name, 0.0) - ticket.cost
            self._spent[name] = self._spent.get(name, 0.0) + cost

    async def budget_known(self, budget: BudgetScope) -> bool:
        return budget.name in self._spent

    async def seed_budget(self, budget: BudgetScope, spent: float) -> None:
        self._spent.setdefault(budget.name, spent)

    async def usage(self, scope: str, now: float) -> ScopeUsage:
        if scope not in self._windows:
            return ScopeUsage()
        window = self._window(scope, now)
        return ScopeUsage(
            window.running, len(window.requests), window.token_total(), len(window.images)
        )

    async def budget_usage(self, budget: BudgetScope) -> BudgetUsage:
        return BudgetUsage(
            self._spent.get(budget.name, 0.0), max(0.0, self._reserved.get(budget.name, 0.0))
        )
