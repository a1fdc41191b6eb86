"""The app factory: `create_app(settings) -> FastAPI`; nothing is built at import time.

Run it with `genai serve`, or `uvicorn --factory app.main:create_app` (settings from env).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import chat_sessions, health
from app.api.chains import mount_use_case
from app.body_limit import BodySizeLimit
from app.errors import register_error_handlers
from app.providers.pool import ProviderPool
from app.settings import Settings, load_settings
from app.storage.chat_history import ChatHistoryStore
from app.storage.database import create_database_engine, create_tables
from chains.registry import ChainContext, discover_use_cases


def create_app(settings: Settings | None = None, providers: ProviderPool | None = None) -> FastAPI:
    settings = settings or load_settings()
    providers = providers or ProviderPool.from_settings(settings)
    engine = create_database_engine(settings.resolved_database_url)
    create_tables(engine)
    history = ChatHistoryStore(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await providers.start()
        try:
            yield
        finally:
            await providers.stop()
            engine.dispose()

    app = FastAPI(
        title="genai-platform",
        version=__version__,
        description="Use-case chains (LangServe) over shared model providers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.providers = providers
    app.state.history = history
    register_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(chat_sessions.router)
    for use_case in discover_use_cases():
        context = ChainContext(use_case.name, settings, providers.models, history)
        mount_use_case(app, use_case, use_case.build(context))
    return app
