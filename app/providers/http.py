"""The platform's one connection pool to model providers (aiohttp), shared by /v1 and chains.

aiohttp, not httpx: its C parser makes an upstream call cost a third of httpx's CPU (see
docs/benchmarks.md). The session is opened on first use, inside the running event loop as
aiohttp requires, and closed at shutdown.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

import aiohttp

from app.providers.mock_transport import MockTransport

#: Room for one line of an upstream event stream (aiohttp's default is 256 KiB).
READ_BUFFER_BYTES = 2**20


class HttpPool:
    """The pool's session: aiohttp's, or the `transport` given (mock_transport.py), which
    answers the same calls in this process."""

    def __init__(self, max_connections: int = 1000, transport: MockTransport | None = None) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._transport = transport
        self.trace_configs: list[aiohttp.TraceConfig] = []  # set before the first call

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._transport is not None:
            return self._transport  # type: ignore[return-value]  # the calls clients make
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                read_bufsize=READ_BUFFER_BYTES,
                trace_configs=self.trace_configs or None,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as the
    OpenAI SDK honours them. Read once: aiohttp's `trust_env` reads the environment and
    ~/.netrc again on every request, which cost a third of a /v1 request's CPU."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)
