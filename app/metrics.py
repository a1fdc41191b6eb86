"""Prometheus metrics of the platform, in a registry of its own per app.

Labels are bounded: route, tenant, model alias, status, limit name and deployment; never a
request id or free text. Per-request figures come from the ledger row as it is written, so
metrics and ledger always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from app.providers.breaker import CircuitBreakers, State
from app.storage.tables import UsageRow

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


class Metrics:
    def __init__(self, breakers: CircuitBreakers, deployments: Iterable[str]) -> None:
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
        self._deployments = sorted(set(deployments))
        self._circuits = _CircuitCollector(breakers)
        registry.register(self._circuits)

    def observe(self, row: UsageRow) -> None:
        model = row.model or ""
        self.requests.labels(row.route, row.tenant_id, model, str(row.status)).inc()
        self.latency.labels(row.route, model).observe(row.latency_ms / 1000)
        if row.ttft_ms is not None:
            self.ttft.labels(row.route, model).observe(row.ttft_ms / 1000)
        self.tokens.labels(row.tenant_id, model, "input").inc(row.input_tokens)
        self.tokens.labels(row.tenant_id, model, "output").inc(row.output_tokens)
        self.cost.labels(row.tenant_id, model).inc(row.cost_usd)

    def rejected(self, tenant: str, limit: str) -> None:
        self.rejections.labels(tenant, limit).inc()

    async def render(self) -> bytes:
        self._circuits.states = await self._circuits.breakers.states(self._deployments)
        return generate_latest(self.registry)
