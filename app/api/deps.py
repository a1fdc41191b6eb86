"""Who is calling, and metering: typed dependencies for most routes, and `MeteredEndpoint` for
the routes that reach a model."""

from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio
from fastapi import Depends, Request, Response
from starlette.types import Receive, Scope, Send

from app.errors import ClientDisconnected, Forbidden, platform_error
from app.http.json_body import JsonRequest
from app.http.request_state import RequestState, request_state
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


#: A route's work once its caller is admitted: the request, the caller, its metering.
MeteredHandler = Callable[[Request, Principal, MeteredRequest], Awaitable[Response]]


class MeteredEndpoint:
    """The endpoint of a route that can reach a model: `handle`, once the caller is
    authenticated and allowed `route`, with the request metered and closed however it ends.

    Done here rather than as FastAPI dependencies, which FastAPI would solve on every request
    (a tenth of a millisecond of a cached /v1 answer, measured)."""

    def __init__(self, route: str, handle: MeteredHandler) -> None:
        self.route = route
        self._handle = handle

    async def __call__(self, request: Request) -> Response:
        request = JsonRequest(request.scope, request.receive)  # its body read by parse_json
        principal = allowed_route(await current_principal(request), self.route)
        state = request_state(request)
        metered = MeteredRequest(request.app.state.services.metering, state.request_id,
                                 state.client_request_id,
                                 cache_control=request.headers.get("cache-control"))  # fmt: skip
        try:
            response = await self._handle(request, principal, metered)
        except BaseException as exc:
            error = platform_error(exc)
            await metered.close(error.status_code, interrupted=error.status_code == 499)
            state.metered = metered.admitted
            raise
        return _ClosingAfter(response, metered, state)


class _ClosingAfter(Response):
    """The route's response, sent; then the request's metering closed if the route left it open
    (a client that left mid-stream: a 499), and the edge told whether it was admitted."""

    def __init__(self, response: Response, metered: MeteredRequest, state: RequestState) -> None:
        self._response, self._metered, self._state = response, metered, state
        self.status_code = response.status_code
        self.raw_headers = response.raw_headers
        self.background = None  # FastAPI's background tasks, run after the response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._response(scope, receive, send)
        except BaseException as exc:
            error = platform_error(exc)
            with anyio.CancelScope(shield=True):
                await self._metered.close(error.status_code, interrupted=True)
            raise
        else:
            if not self._metered.closed:  # the route left it open: its client left
                with anyio.CancelScope(shield=True):
                    await self._metered.close(ClientDisconnected.status_code, interrupted=True)
            if self.background is not None:
                await self.background()
        finally:
            self._state.metered = self._metered.admitted
