"""When to hedge a slow deployment (start the next one beside it), and how often an alias may.

An alias's `hedge_after_ms` is a delay, or `auto`: the recent p95 time to first content of the
deployment being hedged (its last 200 answers; with fewer than 20 it is not hedged, as a p95 of
a handful says nothing). `hedge_max_percent` caps the hedged share of the alias's requests over
the last minute, so a deployment that turns slow for everyone cannot double the alias's calls.
A percentage of few requests is no hedge at all, so the cap has a floor, as retry budgets do
(Envoy's `min_retry_concurrency`): one hedge per `hedge_floor_seconds` is always allowed.
The counts are this replica's own: the cap holds per replica.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping

from app.settings import ModelSpec

WINDOW_SECONDS = 60.0
AUTO_SAMPLES = 200
AUTO_MIN_SAMPLES = 20


class Hedging:
    def __init__(
        self, models: Mapping[str, ModelSpec], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._specs = dict(models)
        self._clock = clock
        self._first_content: defaultdict[str, deque[float]] = defaultdict(
            lambda: deque(maxlen=AUTO_SAMPLES)
        )
        self._requests: defaultdict[str, deque[float]] = defaultdict(deque)
        self._hedges: defaultdict[str, deque[float]] = defaultdict(deque)

    def observe(self, deployment: str, seconds: float) -> None:
        """A deployment's time to first content (to the whole answer when not streaming)."""
        self._first_content[deployment].append(seconds)

    def delay(self, alias: str, deployment: str) -> float | None:
        """Seconds without content before `deployment` is hedged; None: it is not."""
        setting = self._specs[alias].hedge_after_ms
        if setting is None or self._specs[alias].hedge_max_percent == 0:
            return None
        if setting != "auto":
            return setting / 1000
        samples = sorted(self._first_content.get(deployment) or ())
        if len(samples) < AUTO_MIN_SAMPLES:
            return None
        return samples[math.ceil(0.95 * len(samples)) - 1]

    def requested(self, alias: str) -> None:
        """Note a request of the alias (the cap's denominator)."""
        if self._specs[alias].hedge_after_ms is not None:
            self._requests[alias].append(self._clock())

    def may_hedge(self, alias: str) -> bool:
        """Whether one more hedge stays within the cap; if so, it is counted."""
        now, spec = self._clock(), self._specs[alias]
        requests, hedges = self._requests[alias], self._hedges[alias]
        for times in (requests, hedges):
            while times and times[0] < now - WINDOW_SECONDS:
                times.popleft()
        within_share = len(hedges) + 1 <= spec.hedge_max_percent / 100 * len(requests)
        floor = spec.hedge_floor_seconds
        within_floor = floor > 0 and (not hedges or hedges[-1] <= now - floor)
        if not (within_share or within_floor):
            return False
        hedges.append(now)
        return True
