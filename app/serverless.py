"""AWS Lambda: `app.serverless:handler` serves the platform behind API Gateway HTTP APIs and
function URLs, through Mangum (an ASGI adapter).

Lambda buffers a response and freezes the process between invocations, so:
- the app and its services are built on the first invocation and kept while the instance
  lives (Lambda reuses it); they start once, not per invocation;
- every ledger row is written before the invocation returns: nothing runs while the process
  is frozen;
- what cannot work on a function is refused with a clear error, never half-served. The
  embedded model cannot run (no llama.cpp child on a function). A stream cannot be sent as it
  is produced through a buffering adapter, and may outlive the function's timeout. Streams are
  served by the Lambda Web Adapter deployment instead (deploy/aws-lambda/README.md).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable
from typing import Any

from mangum import Mangum

from app.errors import BadRequest, PlatformError, ServiceUnavailable
from app.main import create_app
from app.providers import uses_llama_cpp
from app.services import Services, build_services
from app.settings import Settings, load_settings

#: Chain routes that answer with an event stream (LangServe's), share links included.
_STREAM_ROUTE = re.compile(r"^/[^/]+(/c/[^/]+)?/(stream|stream_log|stream_events)$")


def embedded_model_refusal(settings: Settings) -> PlatformError | None:
    """Why these settings cannot serve on Lambda: a model alias on the embedded model."""
    models = settings.models.items()
    local = [alias for alias, spec in models if uses_llama_cpp(spec.deployments)]
    if not local:
        return None
    return ServiceUnavailable(
        f"The embedded model cannot run on AWS Lambda, and model '{local[0]}' uses it: "
        "set GENAI_CONFIG_FILE (or GENAI_MODELS) to models on a remote provider "
        "(openai, azure or openai-compatible).",
        param="models",
        code="embedded_model_on_lambda",
    )


def stream_refusal(event: dict[str, Any]) -> PlatformError | None:
    """Why this request cannot be answered on a buffering function: it asks for a stream."""
    path = event.get("rawPath") or event.get("path") or ""
    if _STREAM_ROUTE.match(path):
        return BadRequest(
            f"{path} streams its answer, which this AWS Lambda deployment cannot send as it is "
            "produced: call /invoke instead, or deploy with the Lambda Web Adapter.",
            code="streaming_unavailable",
        )
    if path.startswith("/v1/") and _body(event).get("stream") is True:
        return BadRequest(
            "Streamed completions are not available on this AWS Lambda deployment: send "
            "stream: false, or deploy with the Lambda Web Adapter.",
            param="stream",
            code="streaming_unavailable",
        )
    return None


def _body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    try:
        text = base64.b64decode(raw).decode() if event.get("isBase64Encoded") else raw
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return {}  # the app answers a body it cannot read with its own 400
    return body if isinstance(body, dict) else {}


def error_response(error: PlatformError) -> dict[str, Any]:
    """The error as an API Gateway (payload 2.0) and function URL response."""
    return {
        "statusCode": error.status_code,
        "headers": {"content-type": "application/json", **error.headers},
        "body": json.dumps(error.body()),
        "isBase64Encoded": False,
    }


LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaPlatform:
    """The platform in one Lambda instance: built once, started once, drained per invocation."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._adapter = Mangum(create_app(services=services), lifespan="off")
        self._loop = asyncio.get_event_loop()  # Mangum's, set up by its constructor
        self._started = False

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        refusal = stream_refusal(event)
        if refusal is not None:
            return error_response(refusal)
        if not self._started:
            self._loop.run_until_complete(self.services.start())
            self._started = True
        try:
            return self._adapter(event, context)
        finally:
            self._loop.run_until_complete(self.services.metering.drain())


def build_handler(settings: Settings) -> LambdaHandler:
    """The platform over these settings, or a handler that says why they cannot serve here."""
    refusal = embedded_model_refusal(settings)
    if refusal is not None:
        return lambda event, context: error_response(refusal)
    return LambdaPlatform(build_services(settings))


_handler: LambdaHandler | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point; the platform is built by the first invocation of an instance."""
    global _handler
    if _handler is None:
        _handler = build_handler(load_settings())
    return _handler(event, context)
