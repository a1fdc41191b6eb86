"""The composition root: every service of the platform, built here once at startup.

`build_services(settings)` opens the database and Redis (when configured), builds the providers,
tenants, limits and metering, and wires them together; `create_app` (main.py) keeps the result
on `app.state.services`, where routes reach it through typed dependencies (api/deps.py).
Nothing else builds a service.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from app.cache import CacheStore, MemoryCacheStore
from app.documents.reader import DocumentReader
from app.http.drain import Drain
from app.limits.admission import Admission
from app.limits.store import InMemoryLimitStore, LimitStore
from app.observability.metrics import Metrics
from app.providers import CircuitBreakers, ModelProviders, RedisCircuitBreakers, ToolServers
from app.settings import InvalidSettings, Settings
from app.storage.batches import BatchStore
from app.storage.chat_history import ChatHistoryStore
from app.storage.database import create_database_engine, migrate
from app.storage.files import FileStore
from app.storage.group_commit import GroupCommit
from app.storage.responses import ResponseStore
from app.storage.sealed import Sealer
from app.storage.tool_servers import ToolServerStore
from app.streams.kept import KeptStreams
from app.streams.log import EventLog, InMemoryEventLog
from app.tenants.auth import Authenticator
from app.tenants.bootstrap import ensure_local_admin
from app.tenants.keys import KeyHasher, load_or_create_secret
from app.tenants.service import TenantService
from app.tenants.sessions import BrowserSessions
from app.usage.call_meter import MeterServices
from app.usage.counting import TokenCounter
from app.usage.ledger import UsageLedger
from app.usage.lifecycle import Metering
from app.usage.pricing import PriceTable

if TYPE_CHECKING:  # imported where they are configured: a quicker cold start
    from langchain_core.runnables import Runnable
    from redis.asyncio import Redis

    from app.observability.tracing import Tracing
    from app.providers import MockTransport
    from app.use_cases.kit import UseCase


class UseCases:
    """The use cases found in `chains/`, each with its chain built: loaded once, by the first
    caller that needs them (main.py starts that right after startup). LangChain and the chains
    are imported then, so that a cold start answers /v1 without them."""

    def __init__(
        self, settings: Settings, providers: ModelProviders, history: ChatHistoryStore,
        gateway: ToolServers, metering: Metering,
    ) -> None:  # fmt: skip
        self._settings, self._providers, self._history = settings, providers, history
        self._gateway, self._metering = gateway, metering
        self._lock = threading.Lock()
        self._chains: list[tuple[UseCase, Runnable[Any, Any]]] | None = None

    @property
    def loaded(self) -> bool:
        return self._chains is not None

    def load(self) -> list[tuple[UseCase, Runnable[Any, Any]]]:
        """Every use case with its chain (built on the first call, in any thread)."""
        with self._lock:
            if self._chains is None:
                from app.usage.tool_calls import ToolCalls
                from app.use_cases.kit import ChainContext
                from app.use_cases.registry import discover_use_cases
                from app.use_cases.shared_tools import SharedTools

                models = self._providers.models
                tools = SharedTools(ToolCalls(self._gateway, self._metering))
                self._chains = [
                    (use_case, use_case.build(ChainContext(use_case.name, self._settings,
                                                           models, self._history, tools)))
                    for use_case in discover_use_cases()
                ]  # fmt: skip
            return self._chains


@dataclass
class Services:
    settings: Settings
    engine: Engine
    providers: ModelProviders
    history: ChatHistoryStore
    responses: ResponseStore
    files: FileStore
    batches: BatchStore
    tenants: TenantService
    authenticator: Authenticator
    ledger: UsageLedger
    admission: Admission
    metering: Metering
    streams: KeptStreams
    documents: DocumentReader
    local_admin_key: str | None
    #: Every use case found in `chains/`, with its chain built once loaded (after startup).
    use_cases: UseCases
    writes: GroupCommit  # the rows a request stores before it is answered
    tool_servers: ToolServerStore  # the shared tools' servers, as registered
    shared_tools: ToolServers  # their tools, called (/mcp's gateway)
    redis: Redis | None = None
    drain: Drain = field(default_factory=Drain)
    tracing: Tracing | None = None

    async def start(self) -> None:
        if self.redis is not None:
            from redis.exceptions import RedisError

            try:
                await self.redis.ping()
            except RedisError as exc:
                raise InvalidSettings(f"redis_url: Redis does not answer ({exc})") from exc
        await self.providers.start()

    async def stop(self) -> None:
        await self.metering.drain()
        self.writes.close()
        await self.providers.stop()
        if self.redis is not None:
            await self.redis.aclose()
        if self.tracing is not None:
            self.tracing.shutdown()
        self.engine.dispose()


def open_redis(settings: Settings) -> Redis | None:
    """A client (it connects on first use), or None for the embedded in-process state."""
    if not settings.redis_url:
        return None
    from redis.asyncio import Redis  # imported where it is used: a quicker cold start

    return Redis.from_url(settings.redis_url)


def limit_store(settings: Settings, redis: Redis | None) -> LimitStore:
    """Where limits are counted: in Redis, shared by the replicas, else in this process."""
    if redis is None:
        return InMemoryLimitStore()
    from app.limits.redis_store import RedisLimitStore

    return RedisLimitStore(redis, settings.redis_prefix)


def circuit_breakers(settings: Settings, redis: Redis | None) -> CircuitBreakers:
    """The deployments' circuits: in Redis, shared by the replicas, else in this process."""
    return RedisCircuitBreakers(redis, settings.redis_prefix) if redis else CircuitBreakers()


def event_log(settings: Settings, redis: Redis | None) -> EventLog:
    """Where kept streams wait for readers: in Redis, resumable on any replica, else here."""
    retention = settings.stream_retention_seconds
    if redis is None:
        return InMemoryEventLog(retention)
    from app.streams.redis_log import RedisEventLog

    return RedisEventLog(redis, settings.redis_prefix, retention)


def cache_store(settings: Settings, redis: Redis | None) -> CacheStore:
    """The answer cache: Redis's, shared by the replicas, when configured."""
    if redis is None:
        return MemoryCacheStore(settings.cache_max_bytes)
    from app.cache.redis_store import RedisCacheStore

    return RedisCacheStore(redis, settings.redis_prefix)


def open_database(settings: Settings) -> Engine:
    """The engine, with the schema migrated to the newest version."""
    engine = create_database_engine(settings.resolved_database_url)
    migrate(engine)
    return engine


def server_secret(settings: Settings) -> bytes:
    """What keys are hashed and sealed values (tool servers' credentials) sealed with."""
    if settings.secret_key:
        return settings.secret_key.get_secret_value().encode()
    return load_or_create_secret(settings.data_dir / "secret-key")


def build_services(settings: Settings, transport: MockTransport | None = None) -> Services:
    """Every service, wired; `transport` answers the deployments' calls in this process (see
    `MockTransport`)."""
    redis = open_redis(settings)
    providers = ModelProviders(
        settings, circuit_breakers(settings, redis), cache_store(settings, redis), transport
    )
    tracing = None
    if settings.otlp_endpoint:
        from app.observability.tracing import Tracing  # OpenTelemetry only when it is used

        tracing = Tracing(settings.otlp_endpoint, settings.service_name)
        providers.http.trace_configs.append(tracing.client_trace_config())
    engine = open_database(settings)
    secret = server_secret(settings)
    hasher = KeyHasher(secret)
    tenants = TenantService(engine, hasher, settings.auth_cache_seconds)
    local_admin_key = (
        ensure_local_admin(tenants, settings.data_dir / "admin-key")
        if settings.bootstrap_admin
        else None
    )
    authenticator = Authenticator(
        tenants,
        BrowserSessions(engine, hasher, settings.session_cookie_hours * 3600),
        enabled=settings.auth_enabled,
        local_admin_key=local_admin_key,
    )
    writes = GroupCommit(engine)
    ledger = UsageLedger(engine, writes)
    local_aliases = frozenset(
        alias for alias in settings.models if providers.dispatcher.counts_exactly(alias)
    )
    deployments = [d.name for spec in settings.models.values() for d in spec.deployments]
    metrics = Metrics(providers.breakers, deployments, providers.dispatcher.events)
    admission = Admission(limit_store(settings, redis), ledger.aspent, metrics.rejected)
    meter_services = MeterServices(
        admission=admission,
        ledger=ledger,
        counter=TokenCounter(providers.local_tokenizer),
        prices=PriceTable(settings.models),
        local_aliases=local_aliases,
    )
    history = ChatHistoryStore(engine)
    tool_servers = ToolServerStore(engine, Sealer(secret))
    shared_tools = ToolServers(tool_servers.aregistered, providers.breakers)
    metering = Metering(meter_services, settings, metrics)
    return Services(
        settings=settings,
        engine=engine,
        providers=providers,
        history=history,
        responses=ResponseStore(engine, writes),
        files=FileStore(engine),
        batches=BatchStore(engine),
        tenants=tenants,
        authenticator=authenticator,
        ledger=ledger,
        admission=admission,
        metering=metering,
        streams=KeptStreams(event_log(settings, redis), settings.stream_keepalive_seconds),
        documents=DocumentReader(settings),
        local_admin_key=local_admin_key,
        writes=writes,
        redis=redis,
        tracing=tracing,
        use_cases=UseCases(settings, providers, history, shared_tools, metering),
        tool_servers=tool_servers,
        shared_tools=shared_tools,
    )
