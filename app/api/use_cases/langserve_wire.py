"""LangServe's wire protocol as `RemoteRunnable` and the playground speak it: the one module that
touches LangServe's private functions (langserve is archived upstream and pinned to 0.3.3; the
tests in tests/api/test_langserve_protocol.py hold its protocol).

It reads requests as LangServe does (input schema, config keys, the `c/{config_hash}` share
link's config merged in), serializes outputs with LangServe's serializer, and hands the two
streams we leave to LangServe (`stream_log`, `stream_events`) to its handler, with the fixed
"Internal Server Error" event it ends a failure with replaced by the real error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from langchain_core.runnables import Runnable, RunnableConfig
from langserve import APIHandler
from langserve.api_handler import (
    _unpack_input,
    _unpack_request_config,
    _update_config_with_defaults,
)
from langserve.serialization import WellKnownLCSerializer
from pydantic import ValidationError

from app.errors import InvalidRequest, sse_error_event

Events = AsyncIterator[dict[str, Any]]

SERIALIZER = WellKnownLCSerializer()  # LangServe's own: messages and documents as it sends them
_CONFIG_KEYS = ("configurable",)  # what a client may set in a config, as LangServe's default


class LangServeWire:
    """One use case's runnable as LangServe reads and answers its requests."""

    def __init__(self, runnable: Runnable[Any, Any], name: str, playground_type: str) -> None:
        self.runnable = runnable
        self.handler = APIHandler(runnable, path=f"/{name}", playground_type=playground_type)

    async def read_one(
        self, request: Request, config_hash: str, endpoint: str
    ) -> tuple[RunnableConfig, Any]:
        """The config and input of an invoke or stream request, as LangServe reads them."""
        return await self.handler._get_config_and_input(request, config_hash, endpoint=endpoint)

    async def read_batch(
        self, request: Request, body: dict[str, Any], config_hash: str
    ) -> tuple[list[Any], list[RunnableConfig]]:
        """As LangServe's batch reads its request; errors name the input they are about."""
        raw_inputs, config = body.get("inputs"), body.get("config") or {}
        if not isinstance(raw_inputs, list) or not raw_inputs:
            raise InvalidRequest(
                'A batch needs "inputs": a list of at least one input.',
                param="inputs", code="invalid_field",
            )  # fmt: skip
        sent = config if isinstance(config, list) else [config] * len(raw_inputs)
        if len(sent) != len(raw_inputs) or not all(isinstance(one, dict) for one in sent):
            raise InvalidRequest(
                f'"config" is one object for all {len(raw_inputs)} inputs, or a list of one '
                "object per input.",
                param="config", code="invalid_field",
            )  # fmt: skip
        configs: list[RunnableConfig] = []
        for index, one in enumerate(sent):
            try:
                configs.append(await self.client_config(request, one, config_hash, "batch"))
            except ValidationError as exc:
                raise RequestValidationError(located(exc, "config", index)) from None
        inputs = []
        for index, (raw, config_) in enumerate(zip(raw_inputs, configs, strict=True)):
            try:
                inputs.append(self.input_of(raw, self.runnable.with_config(config_)))
            except RequestValidationError as exc:
                raise RequestValidationError(located(exc, "inputs", index)) from None
        return inputs, configs

    def input_of(self, raw: Any, runnable: Runnable[Any, Any] | None = None) -> Any:
        """`raw` validated against the runnable's input schema and unpacked as LangServe does."""
        schema = (runnable or self.runnable).input_schema
        try:
            return _unpack_input(schema.model_validate(raw))
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None

    async def client_config(
        self, request: Request, sent: dict[str, Any], config_hash: str, endpoint: str
    ) -> RunnableConfig:
        """The config a client sent, as LangServe reads it (only `configurable`), with
        LangServe's defaults for `endpoint`; a ValidationError if it is not one."""
        unpacked = await _unpack_request_config(
            config_hash, sent, config_keys=_CONFIG_KEYS, model=self.handler._ConfigPayload,
            request=request, per_req_config_modifier=None, server_config=None,
        )  # fmt: skip
        return _update_config_with_defaults(
            self.handler._run_name, unpacked, request, endpoint=endpoint
        )

    async def delegated(
        self, endpoint: str, request: Request, config_hash: str, server_config: RunnableConfig
    ) -> Response:
        """LangServe's own `stream_log` or `stream_events`, its error events made real."""
        handler = self.handler
        stream = handler.stream_log if endpoint == "stream_log" else handler.astream_events
        response = await stream(request, config_hash=config_hash, server_config=server_config)
        response.body_iterator = with_real_errors(response.body_iterator)
        return response


def located(exc: ValidationError | RequestValidationError, *where: str | int) -> list[Any]:
    """Validation errors located under `where` (a batch item's: `inputs.2.prompt`)."""
    return [{**error, "loc": (*where, *error["loc"])} for error in exc.errors()]


async def with_real_errors(events: Events) -> Events:
    """Replace LangServe's fixed error event by one describing the exception it re-raises next."""
    async for event in events:
        if event.get("event") != "error":
            yield event
            continue
        try:
            await anext(events)  # type: ignore[call-overload]
        except StopAsyncIteration:
            yield event
        except Exception as exc:
            yield sse_error_event(exc)
        return
