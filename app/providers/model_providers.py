"""Everything that reaches a model: each alias's chat model, the dispatcher under them, the HTTP
pool and circuit breakers they share, and the embedded models when an alias uses them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.cache import CacheStore
from app.providers.answer_cache import AnswerCache
from app.providers.breaker import CircuitBreakers
from app.providers.clients import uses_embedder, uses_llama_cpp
from app.providers.dispatcher import Dispatcher
from app.providers.http import HttpPool
from app.providers.local_embedder import LocalEmbedder
from app.providers.local_server import LocalModelServer
from app.providers.local_tokenizer import ContextLimit, LocalTokenizer
from app.providers.mock_transport import MockTransport
from app.settings import Settings

if TYPE_CHECKING:  # LangChain is loaded with the use cases, after startup: /v1 needs none
    from app.providers.alias_model import ChatRunnable


class ModelProviders:
    def __init__(
        self,
        settings: Settings,
        breakers: CircuitBreakers,
        cache: CacheStore,
        transport: MockTransport | None = None,
    ) -> None:
        """`transport` answers the deployments' calls in this process (mock_transport.py)."""
        deployments = [d for spec in settings.models.values() for d in spec.deployments]
        self.local_server = (
            LocalModelServer(settings.local_model, settings.data_dir / "local-model.log")
            if uses_llama_cpp(deployments)
            else None
        )
        #: Counts the embedded model's tokens exactly.
        self.local_tokenizer = (
            LocalTokenizer(self.local_server.model_path) if self.local_server else None
        )
        self.breakers = breakers
        self.http = HttpPool(transport=transport)
        embedder = packaged_embedder()
        self.cache = cache
        self.dispatcher = Dispatcher(
            settings.models, self.http, breakers,
            self.local_server.base_url if self.local_server else None,
            ContextLimit(self.local_tokenizer, settings.local_model.n_ctx)
            if self.local_tokenizer else None,
            embedder if uses_embedder(deployments) else None,
            AnswerCache(settings.models, cache, settings.cache_max_entry_bytes, embedder),
        )  # fmt: skip
        self._models: dict[str, ChatRunnable] | None = None
        self._specs = settings.models
        self.default_alias = settings.default_model

    @property
    def models(self) -> dict[str, ChatRunnable]:
        """Each alias's chat model (LangChain's), for the chains: built on first use."""
        if self._models is None:
            from app.providers.alias_model import alias_models

            self._models = dict(alias_models(self._specs, self.dispatcher))
        return self._models

    async def start(self) -> None:
        if self.local_server is not None:
            await self.local_server.start()

    async def stop(self) -> None:
        await self.http.aclose()
        if self.local_server is not None:
            await self.local_server.stop()

    async def readiness_problem(self) -> str | None:
        """None when the default model's provider answers, else what is wrong."""
        return await self.dispatcher.probe(self.default_alias)


def packaged_embedder() -> LocalEmbedder | None:
    """The embedded embedding model (loaded on first use), if its package is installed: the
    `local-embed` alias's, and the semantic cache's."""
    try:
        return LocalEmbedder.packaged()
    except RuntimeError:
        return None
