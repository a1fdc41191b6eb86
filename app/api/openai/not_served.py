"""What /v1 does not serve, said plainly instead of a bare `404 Not Found`.

A path under /v1 that no route serves is a 404 in OpenAI's error shape (so the openai SDK
raises its `NotFoundError`) naming the method and path, what to call instead for OpenAI's
endpoints the platform lacks, and the endpoints it does serve. A served path asked with
another method is a 405 naming the methods it takes (`Allow`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute

from app.errors import InvalidRequest, NotFound

#: OpenAI's endpoints the platform does not serve, by the path's first part
#: after /v1, and what a client can do instead.
INSTEAD = {
    "audio": "Audio (speech, transcriptions, translations) is not served: no model of the "
    "platform hears or speaks.",
    "assistants": "The Assistants API is not served: use POST /v1/responses with "
    "previous_response_id, or the platform's chat use case (/chat), for kept conversations.",
    "threads": "The Assistants API's threads are not served: use the platform's chat use case "
    "(/chat) for kept conversations.",
    "fine_tuning": "Fine-tuning is not served.",
}


def add_not_served_route(router: APIRouter, guard: Any) -> None:
    """The catch-all under the router's prefix, added after every route it serves, behind
    `guard` (a caller not known is a 401 first)."""
    served = [route for route in router.routes if isinstance(route, APIRoute)]
    listing = ", ".join(
        f"{method} {route.path}" for route in served for method in sorted(route.methods)
    )

    async def not_served(request: Request, path: str) -> None:
        full = request.url.path
        methods = sorted({m for route in served if route.path_regex.match(full)
                          for m in route.methods})  # fmt: skip
        if methods:
            raise InvalidRequest(
                f"{full} takes {', '.join(methods)}, not {request.method}.",
                code="method_not_allowed",
                headers={"Allow": ", ".join(methods)},
                status_code=405,
            )
        instead = INSTEAD.get(path.split("/", 1)[0])
        hint = f" {instead}" if instead else ""
        raise NotFound(
            f"{request.method} {full} is not an endpoint of this platform.{hint} "
            f"It serves: {listing}.",
            code="endpoint_not_served",
        )

    router.add_api_route(
        "/{path:path}", not_served, include_in_schema=False, response_model=None,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"], dependencies=[guard],
    )  # fmt: skip
