"""Every service of the platform, built once at startup and kept on `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine

from app.auth import Authenticator
from app.limits.admission import Admission
from app.metrics import Metrics
from app.openai_api.serving import OpenAIServing
from app.providers.pool import ProviderPool
from app.providers.upstream import ModelRouter
from app.settings import InvalidSettings, Settings
from app.shared_state import limit_store
from app.shutdown import Drain
from app.storage.chat_history import ChatHistoryStore
from app.storage.database import create_database_engine, migrate
from app.tenants.bootstrap import ensure_local_admin
from app.tenants.keys import KeyHasher, load_or_create_secret
from app.tenants.service import TenantService
from app.tracing import Tracing
from app.usage.counting import TokenCounter
from app.usage.ledger import UsageLedger
from app.usage.meter import MeterServices
from app.usage.metering import Metering
from app.usage.pricing import PriceTable


@dataclass
class Services:
    settings: Settings
    engine: Engine
    providers: ProviderPool
    history: ChatHistoryStore
    tenants: TenantService
    authenticator: Authenticator
    ledger: UsageLedger
    admission: Admission
    metering: Metering
    local_admin_key: str | None
    openai: OpenAIServing
    redis: Redis | None = None
    drain: Drain = field(default_factory=Drain)
    tracing: Tracing | None = None
    use_cases: list[str] = field(default_factory=list)

    async def start(self) -> None:
        if self.redis is not None:
            try:
                await self.redis.ping()
            except RedisError as exc:
                raise InvalidSettings(f"redis_url: Redis does not answer ({exc})") from exc
        await self.providers.start()

    async def stop(self) -> None:
        await self.metering.drain()
        await self.providers.stop()
        if self.redis is not None:
            await self.redis.aclose()
        if self.tracing is not None:
            self.tracing.shutdown()
        self.engine.dispose()


def open_database(settings: Settings) -> Engine:
    """The engine, with the schema migrated to the newest version."""
    engine = create_database_engine(settings.resolved_database_url)
    migrate(engine)
    return engine


def key_hasher(settings: Settings) -> KeyHasher:
    secret = (
        settings.secret_key.get_secret_value().encode()
        if settings.secret_key
        else load_or_create_secret(settings.data_dir / "secret-key")
    )
    return KeyHasher(secret)


def build_services(
    settings: Settings, providers: ProviderPool, redis: Redis | None = None
) -> Services:
    engine = open_database(settings)
    hasher = key_hasher(settings)
    tenants = TenantService(engine, hasher, settings.auth_cache_seconds)
    local_admin_key = ensure_local_admin(tenants, settings.data_dir / "admin-key")
    authenticator = Authenticator(
        tenants,
        hasher,
        enabled=settings.auth_enabled,
        local_admin_key=local_admin_key,
        session_seconds=settings.session_cookie_hours * 3600,
    )
    ledger = UsageLedger(engine)
    local_url = providers.local_server.base_url if providers.local_server else None
    local_aliases = frozenset(
        alias for alias, spec in settings.models.items() if spec.provider == "local"
    )
    deployments = [d.name for spec in settings.models.values() for d in spec.deployments]
    metrics = Metrics(providers.breakers, deployments)
    admission = Admission(limit_store(settings, redis), ledger.aspent, metrics.rejected)
    meter_services = MeterServices(
        admission=admission,
        ledger=ledger,
        counter=TokenCounter(providers.local_tokenizer),
        prices=PriceTable(settings.models),
        local_aliases=local_aliases,
    )
    metering = Metering(meter_services, settings, metrics)
    # The pool's router; a pool of test fakes has none, and /v1 still reaches the settings'.
    router = providers.router or ModelRouter(
        settings.models, providers.http, providers.breakers, local_url
    )
    return Services(
        settings=settings,
        engine=engine,
        providers=providers,
        history=ChatHistoryStore(engine),
        tenants=tenants,
        authenticator=authenticator,
        ledger=ledger,
        admission=admission,
        metering=metering,
        openai=OpenAIServing(settings, router),
        local_admin_key=local_admin_key,
        redis=redis,
        tracing=Tracing(settings.otlp_endpoint, settings.service_name)
        if settings.otlp_endpoint
        else None,
    )
