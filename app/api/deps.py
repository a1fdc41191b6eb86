"""Typed dependencies: the services built at startup, who is calling, and metering."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from app.errors import ClientDisconnected, Forbidden, platform_error
from app.http.request_state import request_state
from app.services import Services
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest


async def _services(request: Request) -> Services:
    """Async on purpose: FastAPI runs a sync dependency in a worker thread, on every request."""
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]


async def current_principal(request: Request) -> Principal:
    """The caller. It needs no other dependency: every level of them costs on each request."""
    services: Services = request.app.state.services
    principal = await services.authenticator.principal(request)
    request_state(request).tenant_id = principal.tenant.id
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
        return allowed_route(await current_principal(request), route)

    return guard


def allowed_route(principal: Principal, route: str) -> Principal:
    """The principal, if its tenant's route allow-list names `route` (else a 403)."""
    if not principal.may_use_route(route):
        allowed = ", ".join(principal.tenant.allowed_routes or [])
        raise Forbidden(
            f"Tenant '{principal.tenant.id}' may not use /{route}; allowed: {allowed}.",
            code="route_not_allowed",
        )
    return principal


async def _metered_request(request: Request) -> AsyncIterator[MeteredRequest]:
    """The request's metering, closed when the request ends (after its response was sent, or
    with the exception that ended it): every route that can reach a model takes it."""
    state = request_state(request)
    metering = request.app.state.services.metering
    metered = MeteredRequest(metering, state.request_id, state.client_request_id,
                             cache_control=request.headers.get("cache-control"))  # fmt: skip
    try:
        yield metered
    except BaseException as exc:
        error = platform_error(exc)
        await metered.close(error.status_code, interrupted=isinstance(error, ClientDisconnected))
        raise
    else:
        # Routes close it themselves once they know how the request ended; still open here,
        # the response was cut short: the client left mid-stream.
        await metered.close(ClientDisconnected.status_code, interrupted=True)
    finally:
        state.metered = metered.admitted


MeteredRequestDep = Annotated[MeteredRequest, Depends(_metered_request)]
