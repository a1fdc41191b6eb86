"""Mount a use case's runnable with LangServe's routes, closing LangServe's error gap.

The routes and their names are LangServe's own (`invoke`, `batch`, `stream`, `stream_log`,
`stream_events`, the schemas, the playground, and each under `c/{config_hash}/` for
playground share links), so `RemoteRunnable` and the playground work unchanged. They are
registered here around one `APIHandler` rather than by `add_routes` so that a stream which
fails carries the real status and message instead of LangServe's fixed "Internal Server Error".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from langchain_core.runnables import Runnable
from langserve import APIHandler

from app.errors import sse_error_event
from chains.registry import UseCase

HandlerCall = Callable[..., Awaitable[Response]]

_POST_ENDPOINTS = ("invoke", "batch", "stream", "stream_log", "stream_events")
_STREAMING_ENDPOINTS = ("stream", "stream_log", "stream_events")
_GET_ENDPOINTS = ("input_schema", "output_schema", "config_schema")


async def with_real_errors(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
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


def _endpoint(call: HandlerCall, *, streaming: bool) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, config_hash: str = "") -> Response:
        response = await call(request, config_hash=config_hash)
        if streaming:
            response.body_iterator = with_real_errors(response.body_iterator)  # type: ignore[attr-defined]
        return response

    return endpoint


def mount_use_case(app: FastAPI, use_case: UseCase, runnable: Runnable[Any, Any]) -> None:
    path = f"/{use_case.name}"
    handler = APIHandler(runnable, path=path, playground_type=use_case.playground_type)
    methods = {
        "invoke": handler.invoke,
        "batch": handler.batch,
        "stream": handler.stream,
        "stream_log": handler.stream_log,
        "stream_events": handler.astream_events,
        "input_schema": handler.input_schema,
        "output_schema": handler.output_schema,
        "config_schema": handler.config_schema,
    }
    tags: list[str | Any] = [use_case.name]
    for base in (path, f"{path}/c/{{config_hash}}"):
        for name in _POST_ENDPOINTS:
            endpoint = _endpoint(methods[name], streaming=name in _STREAMING_ENDPOINTS)
            app.add_api_route(f"{base}/{name}", endpoint, methods=["POST"], tags=tags)
        for name in _GET_ENDPOINTS:
            app.add_api_route(
                f"{base}/{name}", _endpoint(methods[name], streaming=False), tags=tags
            )
        app.add_api_route(
            f"{base}/playground/{{file_path:path}}", handler.playground, include_in_schema=False
        )
