"""The chat clients of every model alias, and the embedded model server when one is used."""

from __future__ import annotations

from collections.abc import Mapping

from app.providers.breaker import CircuitBreakers
from app.providers.catalog import ChatRunnable, build_alias_models
from app.providers.http import HttpPool
from app.providers.local_server import LocalModelServer
from app.providers.local_tokenizer import ContextLimit, LocalTokenizer
from app.providers.upstream import ModelRouter
from app.settings import Settings


class ProviderPool:
    def __init__(
        self,
        models: Mapping[str, ChatRunnable],
        default_alias: str,
        local_server: LocalModelServer | None = None,
        breakers: CircuitBreakers | None = None,
        http: HttpPool | None = None,
        router: ModelRouter | None = None,
        local_tokenizer: LocalTokenizer | None = None,
    ) -> None:
        self.models = dict(models)
        self.breakers = breakers or CircuitBreakers()
        self.http = http or HttpPool()
        self.default_alias = default_alias
        self.local_server = local_server
        self.router = router  # None when the models are a test's fakes
        self.local_tokenizer = local_tokenizer  # counts the embedded model's tokens exactly

    @classmethod
    def from_settings(cls, settings: Settings, breakers: CircuitBreakers) -> ProviderPool:
        uses_local = any(
            deployment.provider == "local"
            for spec in settings.models.values()
            for deployment in spec.deployments
        )
        local = (
            LocalModelServer(settings.local_model, settings.data_dir / "local-model.log")
            if uses_local
            else None
        )
        http = HttpPool()
        tokenizer = LocalTokenizer(local.model_path) if local else None
        router = ModelRouter(
            settings.models, http, breakers, local.base_url if local else None,
            ContextLimit(tokenizer, settings.local_model.n_ctx) if tokenizer else None,
        )  # fmt: skip
        models = build_alias_models(settings.models, router)
        return cls(models, settings.default_model, local, breakers, http, router, tokenizer)

    async def start(self) -> None:
        if self.local_server is not None:
            await self.local_server.start()

    async def stop(self) -> None:
        await self.http.aclose()
        if self.local_server is not None:
            await self.local_server.stop()

    async def readiness_problem(self) -> str | None:
        """None when the default model's provider answers, else what is wrong."""
        if self.router is None:
            return None
        return await self.router.probe(self.default_alias)
