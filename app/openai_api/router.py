"""/v1 routes: thin; the work is in serving.py."""

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from app.api.deps import MeteredRequestDep, ServicesDep, route_guard
from app.json_body import api_router
from app.openai_api.protocol import CHAT, COMPLETION
from app.tenants.models import Principal

v1_guard = Depends(route_guard("v1"))
router = api_router(prefix="/v1", tags=["openai"], dependencies=[v1_guard])
Caller = Annotated[Principal, v1_guard]


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    request: Request, principal: Caller, metered: MeteredRequestDep, services: ServicesDep
) -> Response:
    return await services.openai.complete(CHAT, request, principal, metered)


@router.post("/completions", response_model=None)
async def completions(
    request: Request, principal: Caller, metered: MeteredRequestDep, services: ServicesDep
) -> Response:
    return await services.openai.complete(COMPLETION, request, principal, metered)


@router.get("/models")
async def list_models(principal: Caller, services: ServicesDep) -> dict[str, Any]:
    return services.openai.models(principal)


@router.get("/models/{alias}")
async def read_model(alias: str, principal: Caller, services: ServicesDep) -> dict[str, Any]:
    return services.openai.model(principal, alias)
