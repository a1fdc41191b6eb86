"""The HTTP/1.1 transport: uvicorn's httptools protocol, with the limits it lacks.

uvicorn accepts request headers of any size and number (an 8 MB header, 50,000 headers) and
waits as long as a client likes for them and for the body (slowloris). Its own options bound
neither for httptools (`h11_max_incomplete_event_size` is h11's, and `timeout_keep_alive` only
counts between requests). Here, while the request is read, before anything reaches the app:
- headers beyond `max_header_bytes` in all, or `max_headers` of them: 431, connection closed;
- headers not complete within `header_timeout_seconds` of the request's first byte (or of the
  connection opening): 408, connection closed;
- a body not complete within `body_timeout_seconds` of its headers: the connection is closed
  (the app sees the client leave).
The refusals are JSON in the platform's error shape with `X-Request-Id` and `Server-Timing`,
like every error.
`uvicorn_config` is how `genai serve` (and the tests of these limits) run the app.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.settings import Settings

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}
_LINGER_SECONDS = 2.0  # how long a refused client may go on sending before we hang up


@dataclass(frozen=True)
class TransportLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> TransportLimits:
        return cls(
            settings.max_header_bytes, settings.max_headers,
            settings.header_timeout_seconds, settings.body_timeout_seconds,
        )  # fmt: skip


class GuardedProtocol(HttpToolsProtocol):
    limits: ClassVar[TransportLimits]

    _timer: asyncio.TimerHandle | None = None
    _header_bytes = 0
    _headers = 0
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:  # once refused, what still arrives is read and dropped
            super().data_received(data)

    # --- the parser's callbacks (ignored once the request is refused) ---------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = self._headers = 0
        self._arm(self.limits.header_timeout, self._headers_too_slow)

    def on_url(self, url: bytes) -> None:
        if self._within_limits(len(url), 0):
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within_limits(len(name) + len(value) + 4, 1):
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if not self._refused:
            self._arm(self.limits.body_timeout, self._body_too_slow)
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            self._disarm()
            super().on_message_complete()

    # --- the limits ------------------------------------------------------------------------

    def _within_limits(self, size: int, headers: int) -> bool:
        self._header_bytes += size
        self._headers += headers
        limits = self.limits
        if not self._refused and (
            self._header_bytes > limits.max_header_bytes or self._headers > limits.max_headers
        ):
            self._refuse(
                431,
                f"The request's headers exceed {limits.max_headers} headers or "
                f"{limits.max_header_bytes} bytes in all; send fewer or smaller ones.",
                "headers_too_large",
            )
        return not self._refused

    def _headers_too_slow(self) -> None:
        if self.headers is None:  # not one byte of a request came: just hang up
            self.transport.close()
            return
        self._refuse(
            408,
            f"The request's headers took more than {self.limits.header_timeout:g} s to "
            "arrive; send them at once.",
            "request_timeout",
        )

    def _body_too_slow(self) -> None:
        self.transport.close()

    def _refuse(self, status: int, message: str, code: str) -> None:
        self._refused = True
        self._disarm()
        error = {"message": message, "type": "invalid_request_error", "param": "headers",
                 "code": code}  # fmt: skip
        body = orjson.dumps({"error": error})
        head = [
            b"HTTP/1.1 %d %s" % (status, _REASONS[status]),
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            b"connection: close",
            b"x-request-id: " + uuid.uuid4().hex.encode(),
            b"server-timing: platform;dur=0.00, upstream;dur=0.00",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # A lingering close: closing now, with the client's bytes unread, would make the
        # kernel reset the connection, and the client might never read the refusal.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._arm(_LINGER_SECONDS, self.transport.close)

    def _arm(self, seconds: float, expire: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """The server configuration the platform runs with: its host, port and transport limits."""
    protocol = type("Guarded", (GuardedProtocol,), {"limits": TransportLimits.of(settings)})
    return uvicorn.Config(
        app, **{"host": settings.host, "port": settings.port, "http": protocol, **options}
    )
