"""ASGI middleware refusing request bodies over a size, declared or streamed (413): one for
JSON and every other body, a larger one for multipart forms (uploads)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PayloadTooLarge
from app.http.error_responses import error_response
from app.http.uploads import is_multipart


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    def _error(self, upload: bool) -> PayloadTooLarge:
        if upload:
            return PayloadTooLarge(
                f"The upload is larger than {self.max_upload_bytes} bytes; send smaller files "
                "(or raise GENAI_MAX_UPLOAD_BYTES).",
                code="body_too_large",
            )
        return PayloadTooLarge(
            f"The request body is larger than {self.max_bytes} bytes; send less text "
            "(or raise GENAI_MAX_BODY_BYTES).",
            code="body_too_large",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        upload = is_multipart(headers.get(b"content-type", b"").decode("latin-1"))
        limit = self.max_upload_bytes if upload else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_response(self._error(upload), scope["path"])(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await error_response(self._error(upload), scope["path"])(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised from inside receive() to abandon a streamed body that grew too large."""
