"""Typed dependencies: the services built at startup, and who is calling."""

from typing import Annotated

from fastapi import Depends, Request

from app.errors import Forbidden
from app.services import Services
from app.tenants.models import Principal


async def _services(request: Request) -> Services:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, on every request."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]


async def current_principal(request: Request) -> Principal:
    """The caller. It needs no other dependency: every level of them costs on each request."""
    principal = await (await _services(request)).authenticator.principal(request)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def admin_principal(principal: CurrentPrincipal) -> Principal:
    if not principal.admin:
        raise Forbidden("This needs an admin key.", code="admin_required")
    return principal


def route_guard(route: str):  # type: ignore[no-untyped-def]
    """A dependency: the caller, admitted only if its tenant's route allow-list names `route`.

    Use the one object both as the router's guard and as the endpoints' principal: FastAPI
    then solves it once per request.
    """

    async def guard(request: Request) -> Principal:
        principal = await current_principal(request)
        if not principal.may_use_route(route):
            allowed = ", ".join(principal.tenant.allowed_routes or [])
            raise Forbidden(
                f"Tenant '{principal.tenant.id}' may not use /{route}; allowed: {allowed}.",
                code="route_not_allowed",
            )
        return principal

    return guard
