"""Every route's JSON body goes through one parser: orjson, strict, with a nesting limit.

Starlette parses bodies with the standard library, which recurses through nested input (a
`RecursionError`: a 500), fails on invalid UTF-8 with an exception of another kind, and accepts
lone surrogates, `NaN` and `Infinity`, which later fail to encode in a database or a provider
call. orjson refuses all of those, and reads integers beyond 64 bits as floats, which can always
be sent on. `JsonRoute` gives every route a request whose `json()` is this parser: FastAPI's
body parameters, LangServe's own reading and /v1's alike. Use `api_router` for every router.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.errors import UnsupportedMediaType
from app.http.openapi import ERROR_RESPONSES

#: Deeper JSON is refused: no request of the platform needs it, and encoders recurse.
MAX_DEPTH = 64


def media_type(content_type: str | None) -> str:
    """A Content-Type's media type, without its parameters, in lower case."""
    return (content_type or "").partition(";")[0].strip().lower()


def wrong_media_type(wanted: str, content_type: str | None) -> UnsupportedMediaType:
    """The 415 for a body sent as `content_type`, saying how it `wanted` to be sent."""
    return UnsupportedMediaType(
        f"The body must be {wanted}, not '{content_type or 'none'}'.",
        code="unsupported_media_type",
    )


def is_json(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: the point is not to recurse)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(raw: bytes) -> Any:
    """The body's value; `json.JSONDecodeError` naming the problem if it is not valid JSON."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc).split(":", 1)[0] if "depth" not in str(exc) else _TOO_DEEP
        raise json.JSONDecodeError(reason, exc.doc, exc.pos) from None
    # Only a body with more brackets than the limit can nest past it: most skip the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise json.JSONDecodeError(_TOO_DEEP, raw.decode(errors="replace"), 0)
    return value


_TOO_DEEP = f"it is nested more than {MAX_DEPTH} levels deep"


class JsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            content_type = self.headers.get("content-type")
            if not is_json(content_type):
                raise wrong_media_type(
                    "JSON sent with 'Content-Type: application/json'", content_type
                )
            self._json = parse_json(await self.body())
        return self._json


class JsonRoute(APIRoute):
    """An APIRoute whose handlers read JSON bodies with `parse_json`.

    An endpoint that takes the request alone (no parameter, no dependency: the routes that
    reach a model, which read their bodies as `JsonRequest`s and check their callers
    themselves) is called directly: FastAPI's handler would add nothing to it but its
    per-request work."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        if _takes_the_request_alone(self.dependant):
            return self.endpoint  # it reads its body itself, as a `JsonRequest`
        handle = super().get_route_handler()

        async def handle_json(request: Request) -> Response:
            return await handle(JsonRequest(request.scope, request.receive))

        return handle_json


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter whose routes read JSON bodies with `parse_json` and document the
    platform's error responses."""
    kwargs.setdefault("responses", ERROR_RESPONSES)
    return APIRouter(route_class=JsonRoute, **kwargs)


def _takes_the_request_alone(dependant: Dependant) -> bool:
    return dependant.request_param_name is not None and not (
        dependant.path_params or dependant.query_params or dependant.header_params
        or dependant.cookie_params or dependant.body_params or dependant.dependencies
        or dependant.background_tasks_param_name or dependant.response_param_name
    )  # fmt: skip
