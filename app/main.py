"""The app factory: `create_app(settings) -> FastAPI`; nothing is built at import time.

Run it with `genai serve`, or `uvicorn --factory app.main:create_app` (settings from env).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import admin, chat_sessions, docs, health, home, metrics, usage
from app.api.chains import mount_use_cases
from app.body_limit import BodySizeLimit
from app.edge import Edge
from app.errors import register_error_handlers
from app.heap import freeze_startup_objects
from app.json_body import JsonRoute
from app.openai_api.router import build_router as openai_routes
from app.openapi import Documented
from app.providers.pool import ProviderPool
from app.services import build_services
from app.settings import Settings, load_settings
from app.shared_state import circuit_breakers, open_redis
from app.shutdown import DrainGate
from chains.registry import ChainContext, discover_use_cases


def create_app(settings: Settings | None = None, providers: ProviderPool | None = None) -> FastAPI:
    settings = settings or load_settings()
    redis = open_redis(settings)
    providers = providers or ProviderPool.from_settings(settings, circuit_breakers(settings, redis))
    services = build_services(settings, providers, redis)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await services.start()
        freeze_startup_objects()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="genai-platform",
        version=__version__,
        description="Use-case chains (LangServe) over shared model providers.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.router.route_class = JsonRoute  # the use cases' routes are added to the app itself
    app.state.services = services
    register_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(DrainGate, drain=services.drain)
    app.add_middleware(Edge)  # outermost: ids, times and logs everything, errors included
    documented = Documented()
    # The routes that carry the traffic first: Starlette tries the routes in order.
    app.include_router(openai_routes(documented))
    built = []
    for use_case in discover_use_cases():
        context = ChainContext(use_case.name, settings, services.providers.models, services.history)
        built.append((use_case, use_case.build(context)))
        services.use_cases.append(use_case.name)
    mount_use_cases(app, built, settings, services.tracing, documented)
    for module in (health, home, docs, usage, admin, chat_sessions, metrics):
        app.include_router(module.router)
    documented.install(app)
    if services.tracing is not None:
        services.tracing.instrument(app, providers.http)
    return app
