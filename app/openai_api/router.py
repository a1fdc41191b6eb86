"""/v1 routes: thin; the work is in serving.py."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from app.api.deps import MeteredRequestDep, ServicesDep, route_guard
from app.json_body import api_router
from app.openai_api.protocol import CHAT, COMPLETION, ChatCompletionRequest, CompletionRequest
from app.openapi import OPENAI_EVENT, Documented
from app.tenants.models import Principal

v1_guard = Depends(route_guard("v1"))
Caller = Annotated[Principal, v1_guard]


async def chat_completions(
    request: Request, principal: Caller, metered: MeteredRequestDep, services: ServicesDep
) -> Response:
    return await services.openai.complete(CHAT, request, principal, metered)


async def completions(
    request: Request, principal: Caller, metered: MeteredRequestDep, services: ServicesDep
) -> Response:
    return await services.openai.complete(COMPLETION, request, principal, metered)


async def list_models(principal: Caller, services: ServicesDep) -> dict[str, Any]:
    return services.openai.models(principal)


async def read_model(alias: str, principal: Caller, services: ServicesDep) -> dict[str, Any]:
    return services.openai.model(principal, alias)


def build_router(documented: Documented) -> APIRouter:
    """The /v1 routes; the bodies serving.py reads itself documented."""
    router = api_router(prefix="/v1", tags=["openai"], dependencies=[v1_guard])
    for path, endpoint, body in (
        ("/chat/completions", chat_completions, ChatCompletionRequest),
        ("/completions", completions, CompletionRequest),
    ):
        router.add_api_route(
            path, endpoint, methods=["POST"], response_model=None,
            openapi_extra=documented.body(body, events=OPENAI_EVENT, answers_json=True),
        )  # fmt: skip
    router.add_api_route("/models", list_models, methods=["GET"])
    router.add_api_route("/models/{alias}", read_model, methods=["GET"])
    return router
