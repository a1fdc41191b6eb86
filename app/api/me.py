"""/me: who the caller is and what its tenant may use and has used now; /signin, /signout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import CurrentPrincipal, ServicesDep
from app.http.json_body import api_router
from app.tenants.auth import SESSION_COOKIE

if TYPE_CHECKING:  # the use cases load after startup
    from app.use_cases.kit import UseCase

router = api_router(tags=["me"])


@router.get("/me")
async def read_me(principal: CurrentPrincipal, services: ServicesDep) -> dict[str, Any]:
    """The caller's key and tenant (its allow-lists, limits and budget), what the tenant uses
    right now, the model aliases it may use (and those of them that chat, which the use cases
    take), the use cases it may call (each with the kind of console page that serves it), and
    its requests refused by each limit since this replica started. What the console reads to
    show each user what is theirs."""
    tenant = principal.tenant
    models = [alias for alias in services.settings.models if principal.may_use_model(alias)]
    dispatcher = services.providers.dispatcher
    return {
        "key": principal.key.model_dump(mode="json"),
        "tenant": tenant.model_dump(mode="json"),
        "load": (await services.admission.load(tenant)).model_dump(mode="json"),
        "models": models,
        "chat_models": [alias for alias in models if dispatcher.offers(alias, "chat/completions")],
        "default_model": services.settings.default_model,
        "use_cases": [
            {
                "name": use_case.name,
                "workspace": _workspace(use_case),
                "document_field": use_case.document_field,
            }
            for use_case, _ in services.use_cases.load()  # loaded: /me waits for them
            if principal.may_use_route(use_case.name)
        ],
        "refused": services.metering.metrics.refusals(tenant.id),
    }


def _workspace(use_case: UseCase) -> str:
    """The console's page for a use case: a conversation with kept sessions (a chat), a
    form whose document field may be uploaded, or a form made of its input schema."""
    if use_case.playground_type == "chat":
        return "conversation"
    return "document" if use_case.document_field is not None else "form"


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=200, description="An API key of the tenant.")


@router.post("/signin", status_code=204)
async def sign_in(sign_in: SignIn, request: Request, services: ServicesDep) -> Response:
    """Trade a key for a browser session (an HttpOnly cookie), from a page of this origin only:
    a sign-in another site could make would sign the browser into the other site's tenant."""
    authenticator = services.authenticator
    token = await authenticator.sign_in(request, sign_in.key)
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(authenticator.sessions.seconds), httponly=True,
        samesite="strict", secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/signout", status_code=204)
async def sign_out(request: Request, services: ServicesDep) -> Response:
    """End the browser's session on the server (its cookie then works nowhere) and clear the
    cookie; from a page of this origin only. A key in a header is unaffected."""
    await services.authenticator.sign_out(request)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response
