"""/v1/messages routes (Anthropic's Messages API): thin; the work is in serving.py. Errors
under these paths are answered in Anthropic's shape (app/errors.py)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from app.api.anthropic.request import CountTokensRequest, MessagesRequest
from app.api.anthropic.serving import MessagesServing
from app.api.deps import MeteredEndpoint, route_guard
from app.http.json_body import api_router
from app.http.openapi import ANTHROPIC_ERROR_RESPONSES, TYPED_EVENT, Documented
from app.tenants.models import Principal

v1_guard = Depends(route_guard("v1"))
#: Accepted as Anthropic's SDKs send them; the translation does not depend on either.
AnthropicVersion = Annotated[str | None, Header(alias="anthropic-version")]
AnthropicBeta = Annotated[str | None, Header(alias="anthropic-beta")]
ANTHROPIC_HEADERS = [
    {"name": name, "in": "header", "required": False, "schema": {"type": "string"}}
    for name in ("anthropic-version", "anthropic-beta")
]


def build_router(serving: MessagesServing, documented: Documented) -> APIRouter:
    async def count_tokens(
        request: Request, principal: Annotated[Principal, v1_guard],
        version: AnthropicVersion = None, beta: AnthropicBeta = None,
    ) -> dict[str, int]:  # fmt: skip
        return await serving.count_tokens(request, principal)

    router = api_router(prefix="/v1", tags=["anthropic"], responses=ANTHROPIC_ERROR_RESPONSES)
    # It checks its caller itself (MeteredEndpoint): no dependency for FastAPI to solve.
    described = documented.body(MessagesRequest, events=TYPED_EVENT, answers_json=True)
    router.add_api_route(
        "/messages", MeteredEndpoint("v1", serving.create), methods=["POST"],
        response_model=None, openapi_extra={**described, "parameters": ANTHROPIC_HEADERS},
    )  # fmt: skip
    router.add_api_route(
        "/messages/count_tokens", count_tokens, methods=["POST"], dependencies=[v1_guard],
        openapi_extra=documented.body(CountTokensRequest, answers_json=True),
    )  # fmt: skip
    return router
