"""Who is calling: a key in `Authorization: Bearer` or `X-API-Key`, or a browser session.

A browser signs in on the console's page: it posts a key to `/signin`, from this origin only
(a sign-in from another site would sign the victim into the attacker's tenant), and gets an
HttpOnly cookie holding a session token kept on the server (sessions.py); the key behind it is
checked again (revoked? expired?) on every request, and `/signout` ends the session for good.
A browser sends that cookie along whatever page makes the request, so a request it
authenticates that changes anything (any method but GET, HEAD, OPTIONS) must show that it comes
from this origin: `Sec-Fetch-Site: same-origin`, or an `Origin` naming this host. Keys sent in
a header need no such proof: browsers never send them by themselves.
With auth disabled (allowed on a loopback host only) every caller is the local admin.
"""

from __future__ import annotations

import urllib.parse

from fastapi import Request

from app.errors import Forbidden, Unauthorized
from app.tenants.models import Principal
from app.tenants.service import INVALID_KEY, TenantService
from app.tenants.sessions import BrowserSessions

SESSION_COOKIE = "genai_session"


def presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


class Authenticator:
    def __init__(
        self, tenants: TenantService, sessions: BrowserSessions, *, enabled: bool,
        local_admin_key: str | None,
    ) -> None:  # fmt: skip
        self._tenants = tenants
        self.sessions = sessions
        self._enabled = enabled
        self._local_admin_key = local_admin_key

    async def principal(self, request: Request) -> Principal:
        if not self._enabled and self._local_admin_key:
            return await self._tenants.aauthenticate(self._local_admin_key)
        raw_key = presented_key(request)
        if raw_key:
            return await self._tenants.aauthenticate(raw_key)
        cookie = request.cookies.get(SESSION_COOKIE)
        key_id = await self.sessions.key_id(cookie) if cookie else None
        if key_id:
            if request.method not in _SAFE_METHODS:
                require_this_origin(request)
            return await self._tenants.aprincipal_for_key_id(key_id)
        raise Unauthorized(
            "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            " (in a browser, sign in on the console's page, /)."
            if not (raw_key or cookie)
            else INVALID_KEY
        )

    async def sign_in(self, request: Request, raw_key: str) -> str:
        """A session for the key, asked for by a page of this origin: its cookie's token."""
        require_this_origin(request)
        principal = await self._tenants.aauthenticate(raw_key)
        return await self.sessions.open(principal.key.id)

    async def sign_out(self, request: Request) -> None:
        """End the browser's session (asked for by a page of this origin)."""
        require_this_origin(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            await self.sessions.end(cookie)


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_this_origin(request: Request) -> None:
    """Refuse a request a page of another site made the browser send (403)."""
    if not _from_this_origin(request):
        raise Forbidden(
            "A request from another site, made with this browser's session, was "
            "refused; call the API with a key in the Authorization header instead.",
            code="cross_site_request",
        )


def _from_this_origin(request: Request) -> bool:
    """Does the browser say the request comes from a page of this origin?"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    # The host only: behind a TLS-terminating proxy the scheme seen here is not the page's.
    return origin is not None and urllib.parse.urlsplit(origin).netloc == request.headers.get(
        "host"
    )
