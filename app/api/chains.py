"""Mount a use case's runnable with LangServe's routes, metered and with honest errors.

The routes and their names are LangServe's own (`invoke`, `batch`, `stream`, `stream_log`,
`stream_events`, the schemas, the playground, and each under `c/{config_hash}/` for
playground share links), so `RemoteRunnable` and the playground work unchanged. They are
registered here around one `APIHandler` rather than by `add_routes` so that each run:
- is admitted against its tenant's limits and allow-lists, and metered into the ledger;
- gets its tenant passed in `configurable.tenant_id`, which clients cannot set;
- ends a failed stream with the real status and message, not LangServe's fixed 500;
- stops an /invoke or /batch whose client went away (LangServe would finish it).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from langchain_core.runnables import Runnable
from langserve import APIHandler

from app.api.deps import ServicesDep, route_guard
from app.api.invoke import LeanInvoke
from app.disconnect import until_disconnected
from app.edge import add_upstream_time
from app.errors import ClientDisconnected, invalid_json, platform_error, sse_error_event
from app.tenants.models import Principal
from app.usage.meter import RequestMeter
from app.usage.metering import Metering
from chains.registry import TENANT_ID, UseCase

HandlerCall = Callable[..., Awaitable[Response]]
Events = AsyncIterator[dict[str, Any]]

_POST_ENDPOINTS = ("invoke", "batch", "stream", "stream_log", "stream_events")
_STREAMING_ENDPOINTS = ("stream", "stream_log", "stream_events")
_GET_ENDPOINTS = ("input_schema", "output_schema", "config_schema")


async def with_real_errors(events: Events) -> Events:
    """Replace LangServe's fixed error event by one describing the exception it re-raises next."""
    async for event in events:
        if event.get("event") != "error":
            yield event
            continue
        try:
            await anext(events)  # type: ignore[call-overload]
        except StopAsyncIteration:
            yield event
        except Exception as exc:
            yield sse_error_event(exc)
        return


async def metered(events: Events, meter: RequestMeter, metering: Metering) -> Events:
    """Pass the events on; the ledger row is written before the last event (`end` or
    `error`) goes out, or, if the client leaves first, as the stream is torn down."""
    closed = False
    metering.metrics.active_streams.inc()
    try:
        async for event in events:
            kind = event.get("event")
            if kind in ("end", "error"):
                status = 200 if kind == "end" else _status_of(event)
                closed = True
                await metering.aclose(meter, status, interrupted=status != 200)
            yield event
    finally:
        metering.metrics.active_streams.dec()
        if not closed:
            metering.close(meter, ClientDisconnected.status_code, interrupted=True)


def _status_of(error_event: dict[str, Any]) -> int:
    return int(json.loads(error_event["data"]).get("status_code", 500))


async def _request_body(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise invalid_json(exc.msg) from None
    return body if isinstance(body, dict) else None  # LangServe answers it with a 422


def _metered_endpoint(
    call: HandlerCall, route: str, guard: Any, *, streaming: bool
) -> Callable[..., Awaitable[Response]]:
    async def endpoint(
        request: Request,
        services: ServicesDep,
        principal: Principal = guard,  # a default, as `guard` is local (annotations are strings)
        config_hash: str = "",
    ) -> Response:
        body = await _request_body(request)
        if body is None:
            return await call(request, config_hash=config_hash)
        config = body.get("config") if isinstance(body.get("config"), dict) else {}
        configurable = config.get("configurable") or {}
        inputs = body["inputs"] if isinstance(body.get("inputs"), list) else [body.get("input")]
        metering = services.metering
        meter = await metering.open(principal, route, inputs, configurable, request.state)
        tracing = services.tracing
        server_config = {
            "callbacks": [meter, tracing.chain_spans()] if tracing else [meter],
            "configurable": {TENANT_ID: principal.tenant.id},
            # Carried to LangSmith runs when LangSmith tracing is on.
            "metadata": {"tenant": principal.tenant.id, "request_id": meter.request_id},
        }
        run = call(request, config_hash=config_hash, server_config=server_config)
        try:
            # LangServe keeps running an /invoke whose client left; we stop it (streams stop
            # by themselves: sse-starlette cancels them).
            response = await (run if streaming else until_disconnected(request, run))
        except Exception as exc:
            gone = isinstance(exc, ClientDisconnected)
            await metering.aclose(meter, platform_error(exc).status_code, interrupted=gone)
            raise
        if streaming:
            events = with_real_errors(response.body_iterator)  # type: ignore[attr-defined]
            response.body_iterator = metered(events, meter, metering)  # type: ignore[attr-defined]
        else:
            add_upstream_time(request.scope["state"], meter.upstream_seconds)
            await metering.aclose(meter, response.status_code, interrupted=False)
        return response

    return endpoint


def _plain_endpoint(call: HandlerCall) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, config_hash: str = "") -> Response:
        return await call(request, config_hash=config_hash)

    return endpoint


class _UseCaseRoutes:
    """One use case's routes around its `APIHandler`."""

    def __init__(self, use_case: UseCase, runnable: Runnable[Any, Any]) -> None:
        self.name = use_case.name
        self.handler = APIHandler(
            runnable, path=f"/{use_case.name}", playground_type=use_case.playground_type
        )
        self.methods: dict[str, HandlerCall] = {
            "invoke": LeanInvoke(self.handler, runnable),
            "batch": self.handler.batch,
            "stream": self.handler.stream,
            "stream_log": self.handler.stream_log,
            "stream_events": self.handler.astream_events,
            "input_schema": self.handler.input_schema,
            "output_schema": self.handler.output_schema,
            "config_schema": self.handler.config_schema,
        }
        self.caller = Depends(route_guard(use_case.name))

    def base(self, share_link: bool) -> str:
        return f"/{self.name}/c/{{config_hash}}" if share_link else f"/{self.name}"

    def add_model_routes(self, app: FastAPI, share_link: bool) -> None:
        for name in _POST_ENDPOINTS:
            endpoint = _metered_endpoint(
                self.methods[name], self.name, self.caller, streaming=name in _STREAMING_ENDPOINTS
            )
            app.add_api_route(
                f"{self.base(share_link)}/{name}", endpoint, methods=["POST"], tags=[self.name],
                dependencies=[self.caller],
            )  # fmt: skip

    def add_other_routes(self, app: FastAPI, share_link: bool) -> None:
        base = self.base(share_link)
        for name in _GET_ENDPOINTS:
            endpoint = _plain_endpoint(self.methods[name])
            app.add_api_route(
                f"{base}/{name}", endpoint, tags=[self.name], dependencies=[self.caller]
            )
        app.add_api_route(
            f"{base}/playground/{{file_path:path}}",
            self.handler.playground,
            include_in_schema=False,
            dependencies=[self.caller],
        )


def mount_use_cases(app: FastAPI, built: Sequence[tuple[UseCase, Runnable[Any, Any]]]) -> None:
    """Every use case's routes, the model calls of all first: Starlette tries the routes in
    order, so a request walks past every route added before its own. Schemas and playgrounds
    come next, the playground's share links (`c/{config_hash}`) last."""
    routes = [_UseCaseRoutes(use_case, runnable) for use_case, runnable in built]
    for share_link in (False, True):
        for use_case_routes in routes:
            use_case_routes.add_model_routes(app, share_link)
        for use_case_routes in routes:
            use_case_routes.add_other_routes(app, share_link)
