"""Who is calling: a key in `Authorization: Bearer` or `X-API-Key`, or a browser session.

A browser opens `/?token=<key>` once (as with Jupyter) and gets an HttpOnly cookie naming
the key, signed by the server; the key is checked again (revoked? expired?) on every request.
A browser sends that cookie along whatever page makes the request, so a request it
authenticates that changes anything (any method but GET, HEAD, OPTIONS) must show that it comes
from this origin: `Sec-Fetch-Site: same-origin`, or an `Origin` naming this host. Keys sent in
a header need no such proof: browsers never send them by themselves.
With auth disabled (allowed on a loopback host only) every caller is the local admin.
"""

from __future__ import annotations

import hmac
import time
import urllib.parse

from fastapi import Request

from app.errors import Forbidden, Unauthorized
from app.tenants.keys import KeyHasher
from app.tenants.models import Principal
from app.tenants.service import INVALID_KEY, TenantService

SESSION_COOKIE = "genai_session"


def presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("x-api-key") or None


class Authenticator:
    def __init__(
        self,
        tenants: TenantService,
        hasher: KeyHasher,
        *,
        enabled: bool,
        local_admin_key: str | None,
        session_seconds: float,
    ) -> None:
        self._tenants = tenants
        self._hasher = hasher
        self._enabled = enabled
        self._local_admin_key = local_admin_key
        self.session_seconds = session_seconds

    async def principal(self, request: Request) -> Principal:
        if not self._enabled and self._local_admin_key:
            return await self._tenants.aauthenticate(self._local_admin_key)
        raw_key = presented_key(request)
        if raw_key:
            return await self._tenants.aauthenticate(raw_key)
        cookie = request.cookies.get(SESSION_COOKIE)
        key_id = self._verified_cookie(cookie) if cookie else None
        if key_id:
            if request.method not in _SAFE_METHODS and not _from_this_origin(request):
                raise Forbidden(
                    "A request from another site, made with this browser's session, was "
                    "refused; call the API with a key in the Authorization header instead.",
                    code="cross_site_request",
                )
            return await self._tenants.aprincipal_for_key_id(key_id)
        raise Unauthorized(
            "An API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            " (in a browser, open /?token=<key> once)."
            if not (raw_key or cookie)
            else INVALID_KEY
        )

    def session_cookie(self, principal: Principal) -> str:
        expires = int(time.time() + self.session_seconds)
        value = f"{principal.key.id}.{expires}"
        return f"{value}.{self._hasher.sign(value)}"

    def _verified_cookie(self, cookie: str) -> str | None:
        """The key id a cookie we issued names, if its signature holds and it has not expired."""
        key_id, _, rest = cookie.partition(".")
        expires, _, signature = rest.partition(".")
        if not (key_id and expires.isdigit() and signature):
            return None
        expected = self._hasher.sign(f"{key_id}.{expires}")
        if not hmac.compare_digest(expected, signature) or int(expires) < time.time():
            return None
        return key_id


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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
