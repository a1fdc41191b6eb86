"""Circuit breakers per deployment: one that keeps failing is skipped for a cool-down.

closed ──(threshold consecutive failures)──▶ open ──(cool-down over)──▶ half-open
   ▲                                                                       │
   └──────────────(the one trial request succeeds; fails: open again)──────┘
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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

    def state(self, name: str) -> State:
        circuit = self._circuits.get(name)
        if circuit is None or circuit.opened_at is None:
            return "closed"
        return "open" if self._clock() - circuit.opened_at < self.cooldown else "half_open"

    def allow(self, name: str) -> bool:
        """May a request go to this deployment now? In half-open, only one trial at a time."""
        state = self.state(name)
        if state == "closed":
            return True
        circuit = self._circuits[name]
        if state == "half_open" and not circuit.trial_running:
            circuit.trial_running = True
            return True
        return False

    def retry_after(self, name: str) -> float:
        circuit = self._circuits.get(name)
        if circuit is None or circuit.opened_at is None:
            return 0.0
        return max(0.0, circuit.opened_at + self.cooldown - self._clock())

    def abandoned(self, name: str) -> None:
        """A request ended neither way (cancelled, refused): free the half-open trial."""
        circuit = self._circuits.get(name)
        if circuit is not None:
            circuit.trial_running = False

    def succeeded(self, name: str) -> None:
        self._circuits.pop(name, None)

    def failed(self, name: str) -> None:
        self.failures_total[name] = self.failures_total.get(name, 0) + 1
        circuit = self._circuits.setdefault(name, _Circuit())
        circuit.failures += 1
        circuit.trial_running = False
        if circuit.failures >= self.threshold or circuit.opened_at is not None:
            circuit.opened_at = self._clock()
