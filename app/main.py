"""The app factory: `create_app(settings) -> FastAPI`; nothing is built at import time.

It only assembles FastAPI: the services come built from the composition root (services.py),
and this adds the middleware, error handlers and routes over them. Run it with `genai serve`,
or `uvicorn --factory app.main:create_app` (settings from the environment).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from starlette.routing import Route

from app import __version__
from app.api import admin, chat_sessions, docs, health, home, me, metrics, tool_servers, usage
from app.api.anthropic.router import build_router as messages_routes
from app.api.anthropic.serving import MessagesServing
from app.api.mcp import METHODS as MCP_METHODS
from app.api.mcp import McpEndpoint
from app.api.model_calls import ModelCalls
from app.api.openai.batch_runner import BatchRunner
from app.api.openai.batches import BatchesServing
from app.api.openai.files import FilesServing
from app.api.openai.responses import ResponsesServing
from app.api.openai.responses_background import BackgroundResponses
from app.api.openai.router import build_router as openai_routes
from app.api.openai.serving import OpenAIServing
from app.api.use_cases.mounting import UseCaseMounting
from app.http.body_limit import BodySizeLimit
from app.http.drain import DrainGate
from app.http.edge import Edge
from app.http.error_responses import register_error_handlers
from app.http.json_body import JsonRoute
from app.http.loading_gate import LoadingGate
from app.http.openapi import Documented
from app.server.heap import freeze_startup_objects
from app.services import Services, build_services
from app.settings import Settings, load_settings
from app.usage.tool_calls import ToolCalls

#: What is served from startup on; every other path waits for the use cases to be mounted.
SERVED_BEFORE_USE_CASES = ("/v1/", "/health", "/ready", "/metrics")


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    services = services or build_services(settings or load_settings())
    settings = services.settings

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await services.start()
        freeze_startup_objects()
        use_cases.start()  # loaded while /v1 already answers
        runner.start()
        try:
            yield
        finally:
            await runner.stop(settings.shutdown_grace_seconds)
            await mcp.stop()
            await services.stop()

    app = FastAPI(
        title="genai-platform",
        version=__version__,
        description="Use-case chains (LangServe) over shared model providers.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # The platform's own tracing and metrics (observability/) instrument it. FastAPI's
        # native telemetry, on, looks up the global providers on every request to see whether
        # it has work (4% of a cached /v1 answer, sampled).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = JsonRoute  # the use cases' routes are added to the app itself
    app.state.services = services
    register_error_handlers(app)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes
    )
    documented = Documented()
    app.state.use_cases = use_cases = UseCaseMounting(app, services, documented)
    app.add_middleware(LoadingGate, loaded=use_cases.done, served_before=SERVED_BEFORE_USE_CASES)
    app.add_middleware(DrainGate, drain=services.drain)
    app.add_middleware(Edge)  # outermost: ids, times and logs everything, errors included
    # The routes that carry the traffic first: Starlette tries the routes in order.
    dispatcher, streams = services.providers.dispatcher, services.streams
    calls = ModelCalls(settings, dispatcher, streams)
    openai = OpenAIServing(calls, settings, dispatcher, streams)
    background = BackgroundResponses(calls, services.responses, streams,
                                     settings.background_check_seconds)  # fmt: skip
    tool_calls = ToolCalls(services.shared_tools, services.metering)
    responses = ResponsesServing(calls, services.responses, background, tool_calls)
    runner = BatchRunner(
        services.batches, services.tenants, services.metering,
        {"/v1/chat/completions": partial(openai.answer_line, "/v1/chat/completions"),
         "/v1/completions": partial(openai.answer_line, "/v1/completions"),
         "/v1/embeddings": partial(openai.answer_line, "/v1/embeddings"),
         "/v1/responses": responses.answer_line},
        settings,
    )  # fmt: skip
    files = FilesServing(services.files, settings.max_file_bytes)
    batches = BatchesServing(services.batches, files, runner, settings.max_body_bytes)
    app.include_router(messages_routes(MessagesServing(calls, services.metering), documented))
    app.include_router(
        openai_routes(openai, responses, files, batches, documented)
    )  # last: its catch-all
    mcp = McpEndpoint(services, use_cases)
    app.router.routes.append(Route("/mcp", mcp, methods=MCP_METHODS, include_in_schema=False))
    for module in (health, home, me, docs, usage, admin, tool_servers, chat_sessions, metrics):
        app.include_router(module.router)
    home.mount_console(app)
    documented.install(app)
    if services.tracing is not None:
        services.tracing.instrument(app)
    return app
