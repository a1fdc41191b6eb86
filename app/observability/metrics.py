"""Prometheus metrics of the platform, in a registry of its own per app.

Labels are bounded: route, tenant, model alias, status, limit name and deployment; never a
request id or free text. Per-request figures come from the ledger row as it is written, so
metrics and ledger always agree.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.providers import CircuitBreakers, State

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}


class _CircuitCollector(Collector):
    """Reports the circuit states last read by `Metrics.render` (collecting is synchronous)."""

    def __init__(self, breakers: CircuitBreakers) -> None:
        self.breakers = breakers
        self.states: dict[str, State] = {}

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = GaugeMetricFamily(
            "genai_circuit_state",
            "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open.",
            labels=["deployment"],
        )
        failures = CounterMetricFamily(
            "genai_provider_failures",
            "Calls to a deployment that failed (connect error, timeout, 429, 5xx).",
            labels=["deployment"],
        )
        for name, current in self.states.items():
            state.add_metric([name], _CIRCUIT_STATES[current])
            failures.add_metric([name], self.breakers.failures_total.get(name, 0))
        yield state
        yield failures


_DISPATCH_EVENTS = {
    "continued": ("genai_continuations", "Answers cut short and continued, by the deployment "
                  "that continued them."),
    "hedge_fired": ("genai_hedges_fired", "Hedges started, by the deployment started."),
    "hedge_won": ("genai_hedges_won", "Hedges whose deployment answered first."),
}  # fmt: skip


class _DispatchCollector(Collector):
    """Continuations and hedges by alias and deployment, as the dispatcher counts them."""

    def __init__(self, events: Mapping[tuple[str, str, str], int]) -> None:
        self.events = events

    def collect(self) -> Iterator[CounterMetricFamily]:
        families = {
            event: CounterMetricFamily(name, text, labels=["model", "deployment"])
            for event, (name, text) in _DISPATCH_EVENTS.items()
        }
        for (event, alias, deployment), count in sorted(self.events.items()):
            families[event].add_metric([alias, deployment], count)
        yield from families.values()


class FinishedRequest(Protocol):
    """What a request's figures are read from: its ledger row (app/usage/ledger.py)."""

    route: str
    tenant_id: str
    model: str | None
    status: int
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cache: str | None
    saved_usd: float
    guardrails: dict[str, int] | None


@dataclass(frozen=True)
class _Series:
    requests: Counter
    latency: Histogram
    input_tokens: Counter
    output_tokens: Counter
    cost: Counter


class Metrics:
    def __init__(
        self,
        breakers: CircuitBreakers,
        deployments: Iterable[str],
        dispatch_events: Mapping[tuple[str, str, str], int],
    ) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "genai_requests", "Admitted requests by how they ended.",
            ["route", "tenant", "model", "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "genai_request_seconds", "Request latency.", ["route", "model"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.ttft = Histogram(
            "genai_time_to_first_token_seconds", "Time to the first generated token.",
            ["route", "model"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.tokens = Counter(
            "genai_tokens", "Tokens by tenant, model and direction (input/output).",
            ["tenant", "model", "direction"], registry=registry,
        )  # fmt: skip
        self.cost = Counter(
            "genai_cost_usd", "Cost in USD by tenant and model.", ["tenant", "model"],
            registry=registry,
        )  # fmt: skip
        self.active_streams = Gauge(
            "genai_active_streams", "Streams being sent right now.", registry=registry
        )
        self.rejections = Counter(
            "genai_limit_rejections", "Requests refused by a limit or budget.",
            ["tenant", "limit"], registry=registry,
        )  # fmt: skip
        self.batch_lines = Counter(
            "genai_batch_lines", "Batch lines run, by tenant and outcome (done or failed).",
            ["tenant", "outcome"], registry=registry,
        )  # fmt: skip
        self.batch_queue = Gauge(
            "genai_batch_queue_depth", "Batch lines not settled yet, by tenant (as this replica "
            "last counted them in the shared database).", ["tenant"], registry=registry,
        )  # fmt: skip
        self.cache_requests = Counter(
            "genai_cache_requests", "Cacheable requests by what the answer cache did (hit, "
            "coalesced, partial, miss, bypass).", ["tenant", "model", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.cache_saved = Counter(
            "genai_cache_saved_usd", "What the answers the cache served would have cost.",
            ["tenant", "model"], registry=registry,
        )  # fmt: skip
        self.cache_bytes = Gauge(
            "genai_cache_bytes", "Bytes of answers this replica's in-process cache holds "
            "(0 when the cache is Redis's, shared).", registry=registry,
        )  # fmt: skip
        self.guardrail_actions = Counter(
            "genai_guardrail_actions", "What the guardrails did with what they found, by "
            "direction (request, response), category and action (mask, redact, block; "
            "dry_run_*: what a dry run would have done).",
            ["tenant", "direction", "category", "action"], registry=registry,
        )  # fmt: skip
        self._queued_tenants: set[str] = set()
        self._deployments = sorted(set(deployments))
        self._circuits = _CircuitCollector(breakers)
        registry.register(self._circuits)
        registry.register(_DispatchCollector(dispatch_events))
        self._by_labels: dict[tuple[str, str, str, int], _Series] = {}
        self._refused: collections.Counter[tuple[str, str]] = collections.Counter()

    def observe(self, row: FinishedRequest) -> None:
        model = row.model or ""
        series = self._series(row.route, row.tenant_id, model, row.status)
        series.requests.inc()
        series.latency.observe(row.latency_ms / 1000)
        if row.ttft_ms is not None:  # its series appears with the route's first stream
            self.ttft.labels(row.route, model).observe(row.ttft_ms / 1000)
        series.input_tokens.inc(row.input_tokens)
        series.output_tokens.inc(row.output_tokens)
        series.cost.inc(row.cost_usd)
        if row.cache is not None:
            self.cache_requests.labels(row.tenant_id, model, row.cache).inc()
            if row.saved_usd:
                self.cache_saved.labels(row.tenant_id, model).inc(row.saved_usd)
        for counted, times in (row.guardrails or {}).items():
            direction, category, action = counted.split(".")
            self.guardrail_actions.labels(row.tenant_id, direction, category, action).inc(times)

    def _series(self, route: str, tenant: str, model: str, status: int) -> _Series:
        """The labelled series a row updates, looked up once per label set (`labels()` costs
        more than the update itself)."""
        key = (route, tenant, model, status)
        series = self._by_labels.get(key)
        if series is None:
            series = self._by_labels[key] = _Series(
                requests=self.requests.labels(route, tenant, model, str(status)),
                latency=self.latency.labels(route, model),
                input_tokens=self.tokens.labels(tenant, model, "input"),
                output_tokens=self.tokens.labels(tenant, model, "output"),
                cost=self.cost.labels(tenant, model),
            )
        return series

    def rejected(self, tenant: str, limit: str) -> None:
        self.rejections.labels(tenant, limit).inc()
        self._refused[tenant, limit] += 1

    def refusals(self, tenant: str) -> dict[str, int]:
        """The tenant's requests refused by each limit, since this process started."""
        return {limit: n for (who, limit), n in sorted(self._refused.items()) if who == tenant}

    def batch_depth(self, depth: Mapping[str, int]) -> None:
        """The lines not settled yet, by tenant; a tenant not named has none."""
        for tenant in self._queued_tenants | set(depth):
            self.batch_queue.labels(tenant).set(depth.get(tenant, 0))
        self._queued_tenants |= set(depth)

    async def render(self) -> bytes:
        self._circuits.states = await self._circuits.breakers.states(self._deployments)
        return generate_latest(self.registry)
