"""Mount each use case with LangServe's routes: the model calls metered, the rest as LangServe's.

The routes and their names are LangServe's own (`invoke`, `batch`, `stream`, `stream_log`,
`stream_events`, the schemas, the playground, and each under `c/{config_hash}/` for
playground share links), so `RemoteRunnable` and the playground work unchanged. The model-call
routes run through `ChainRuns` (runs.py) and take the request's metering; every route is
guarded by the tenant's route allow-list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response
from langchain_core.runnables import Runnable
from pydantic import BaseModel, Field, WithJsonSchema, create_model

from app.api.deps import MeteredEndpoint, route_guard
from app.api.use_cases.documents import stream_document
from app.api.use_cases.runs import ChainRuns
from app.documents.extract import SUPPORTED
from app.documents.reader import DocumentReader
from app.http.openapi import ERROR_RESPONSES, LANGSERVE_EVENT, Documented, event_stream
from app.services import Services
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest
from app.use_cases.kit import UseCase

HandlerCall = Callable[..., Awaitable[Response]]

MODEL_ENDPOINTS = ("invoke", "batch", "stream", "stream_log", "stream_events")
_GET_ENDPOINTS = ("input_schema", "output_schema", "config_schema")


class _ModelEndpoint(MeteredEndpoint):
    """A use case's model route: `serve`, metered; `config_hash` is a share link's."""

    def __init__(self, route: str, serve: HandlerCall) -> None:
        super().__init__(route, self._serve)
        self._run = serve

    async def __call__(self, request: Request, config_hash: str = "") -> Response:
        return await super().__call__(request)

    async def _serve(
        self, request: Request, principal: Principal, meter: MeteredRequest
    ) -> Response:
        return await self._run(
            request, principal, meter, request.path_params.get("config_hash", "")
        )


def _resume_endpoint(runs: ChainRuns, guard: Any) -> Callable[..., Awaitable[Response]]:
    async def endpoint(
        run_id: str,
        principal: Principal = guard,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> Response:
        return await runs.resume(run_id, principal, last_event_id)

    return endpoint


def _plain_endpoint(call: HandlerCall) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, config_hash: str = "") -> Response:
        return await call(request, config_hash=config_hash)

    return endpoint


class _UseCaseRoutes:
    """One use case's routes."""

    def __init__(self, use_case: UseCase, runnable: Runnable[Any, Any], services: Services) -> None:
        self.name = use_case.name
        self.runs = ChainRuns(
            use_case, runnable, services.settings, services.tracing, services.streams
        )
        self.caller = Depends(route_guard(use_case.name))

    def base(self, share_link: bool) -> str:
        return f"/{self.name}/c/{{config_hash}}" if share_link else f"/{self.name}"

    def add_model_routes(self, app: FastAPI, share_link: bool, documented: Documented) -> None:
        handler = self.runs.wire.handler
        bodies = {
            "invoke": documented.body(handler.InvokeRequest, handler.InvokeResponse),
            "batch": documented.body(handler.BatchRequest, handler.BatchResponse),
            "stream": documented.body(handler.StreamRequest, events=LANGSERVE_EVENT),
            "stream_log": documented.body(handler.StreamLogRequest, events=LANGSERVE_EVENT),
            "stream_events": documented.body(handler.StreamEventsRequest, events=LANGSERVE_EVENT),
        }
        for name in MODEL_ENDPOINTS:
            app.add_api_route(
                f"{self.base(share_link)}/{name}",
                _ModelEndpoint(self.name, getattr(self.runs, name)),
                methods=["POST"], tags=[self.name],
                responses=ERROR_RESPONSES, openapi_extra=bodies[name],
            )  # fmt: skip

    def add_document_route(
        self, app: FastAPI, field: str, documented: Documented, reader: DocumentReader
    ) -> None:
        runs = self.runs

        async def handle(request: Request, principal: Principal, meter: MeteredRequest) -> Response:
            return await stream_document(runs, reader, request, principal, meter, field)

        app.add_api_route(
            f"/{self.name}/file", MeteredEndpoint(self.name, handle), methods=["POST"],
            tags=[self.name], responses=ERROR_RESPONSES,
            openapi_extra=documented.form(document_form(self.name, field, runs.runnable),
                                          events=LANGSERVE_EVENT),
        )  # fmt: skip

    def add_other_routes(self, app: FastAPI, share_link: bool) -> None:
        base, handler = self.base(share_link), self.runs.wire.handler
        for name in _GET_ENDPOINTS:
            endpoint = _plain_endpoint(getattr(handler, name))
            app.add_api_route(
                f"{base}/{name}", endpoint, tags=[self.name], dependencies=[self.caller],
                responses=ERROR_RESPONSES,
            )  # fmt: skip
        if not share_link:
            app.add_api_route(
                f"{base}/stream/{{run_id}}", _resume_endpoint(self.runs, self.caller),
                tags=[self.name], dependencies=[self.caller], responses=ERROR_RESPONSES,
                openapi_extra=event_stream(LANGSERVE_EVENT),
            )  # fmt: skip
        app.add_api_route(
            f"{base}/playground/{{file_path:path}}",
            handler.playground,
            include_in_schema=False,
            dependencies=[self.caller],
        )


def document_form(name: str, field: str, runnable: Runnable[Any, Any]) -> type[BaseModel]:
    """The form `POST /<name>/file` reads, for its OpenAPI schema: the document, the input's
    other fields (as text) and the model's settings."""
    fields: dict[str, Any] = {
        key: (info.annotation, info)
        for key, info in runnable.input_schema.model_fields.items()
        if key != field
    }
    binary = Annotated[bytes, WithJsonSchema({"type": "string", "format": "binary"})]
    return create_model(
        f"{name.title()}FileForm",
        file=(binary, Field(description=f"The document: {SUPPORTED}.")),
        model=(str | None, Field(None, description="A model alias.")),
        temperature=(float | None, Field(None, ge=0, le=2)),
        **fields,
    )


def mount_use_cases(
    app: FastAPI, chains: list[tuple[UseCase, Runnable[Any, Any]]], services: Services,
    documented: Documented,
) -> dict[str, ChainRuns]:  # fmt: skip
    """Every use case's routes, the model calls of all first: Starlette tries the routes in
    order, so a request walks past every route added before its own. Schemas and playgrounds
    come next, the playground's share links (`c/{config_hash}`) last. Returns each use case's
    runs, by name, for the other ways in (/mcp)."""
    routes = [_UseCaseRoutes(use_case, chain, services) for use_case, chain in chains]
    for use_case, _ in chains:
        if use_case.document_field:
            route = next(one for one in routes if one.name == use_case.name)
            route.add_document_route(app, use_case.document_field, documented, services.documents)
    for share_link in (False, True):
        for use_case_routes in routes:
            use_case_routes.add_model_routes(app, share_link, documented)
        for use_case_routes in routes:
            use_case_routes.add_other_routes(app, share_link)
    return {one.name: one.runs for one in routes}
