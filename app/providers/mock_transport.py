"""An in-process transport for the provider clients, in the spirit of `httpx.MockTransport`: a
handler answers each request the clients send, with no socket, and the clients run their
production code on what it answers (status mapping, parsing, counting, failover).

    transport = MockTransport(handler)     # async def handler(UpstreamRequest) -> MockResponse
    ModelProviders(..., transport=transport)

A `MockResponse` is whole (`json=` or `body=`) or an event stream (`lines=`, an async iterator
of the stream's lines, each ending in a newline). It honours the client's read timeout
(`sock_read`) as aiohttp does, raising `TimeoutError`, and once closed it reads no more. A
handler that raises one of aiohttp's errors fails the attempt as a dropped connection would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy


@dataclass(frozen=True)
class UpstreamRequest:
    """What a client sent: its method, URL (path and query), headers and body."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class MockResponse:
    def __init__(
        self,
        status: int = 200,
        *,
        json: Any = None,
        body: bytes = b"",
        lines: AsyncIterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self._body = orjson.dumps(json) if json is not None else body
        self._lines = lines
        default = "text/event-stream" if lines is not None else "application/json"
        self.headers = CIMultiDictProxy(CIMultiDict({"Content-Type": default, **(headers or {})}))
        self._read_timeout: float | None = None
        self.closed = False

    @property
    def content_type(self) -> str:
        return self.headers["Content-Type"].split(";")[0].strip()

    async def read(self) -> bytes:
        if self._lines is None:
            return self._body
        return b"".join([line async for line in self.content])

    @property
    def content(self) -> AsyncIterator[bytes]:
        return self._read_lines()

    async def _read_lines(self) -> AsyncIterator[bytes]:
        lines = self._lines if self._lines is not None else _whole(self._body)
        while not self.closed:
            try:
                async with asyncio.timeout(self._read_timeout):
                    line = await anext(lines)
            except StopAsyncIteration:
                return
            yield line

    def close(self) -> None:
        """Done with it: nothing more is read (the handler's stream is finalized with it)."""
        self.closed = True

    async def __aenter__(self) -> MockResponse:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()


async def _whole(body: bytes) -> AsyncIterator[bytes]:
    for line in body.splitlines(keepends=True):
        yield line


Handler = Callable[[UpstreamRequest], Awaitable[MockResponse]]


class MockTransport:
    """Answers the clients' requests with `handler`; what the pool's session would do."""

    closed = False

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def _send(
        self, method: str, url: str, data: Any, headers: Mapping[str, str] | None,
        params: Mapping[str, str] | None, timeout: aiohttp.ClientTimeout | None,
    ) -> MockResponse:  # fmt: skip
        if params:
            url = f"{url}?{'&'.join(f'{name}={value}' for name, value in params.items())}"
        body = data if isinstance(data, bytes) else b""
        request = UpstreamRequest(method, url, dict(headers or {}), body)
        read = timeout.sock_read if timeout is not None else None
        async with asyncio.timeout(read):  # no headers in time: aiohttp's read timeout
            response = await self._handler(request)
        response._read_timeout = read
        return response

    async def post(
        self, url: str, *, data: Any = None, headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None, timeout: aiohttp.ClientTimeout | None = None,
        **_: Any,
    ) -> MockResponse:  # fmt: skip
        return await self._send("POST", url, data, headers, params, timeout)

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None,
        timeout: aiohttp.ClientTimeout | None = None, **_: Any,
    ) -> _Pending:  # fmt: skip
        return _Pending(self._send("GET", url, None, headers, None, timeout))

    async def close(self) -> None:
        """Nothing to close: no connections."""


class _Pending:
    """A GET as aiohttp hands it back: awaited, or used with `async with`."""

    def __init__(self, sent: Coroutine[Any, None, MockResponse]) -> None:
        self._sent = sent
        self._response: MockResponse | None = None

    def __await__(self) -> Generator[Any, None, MockResponse]:
        return self._sent.__await__()

    async def __aenter__(self) -> MockResponse:
        self._response = await self._sent
        return self._response

    async def __aexit__(self, *_: object) -> None:
        if self._response is not None:
            self._response.close()
