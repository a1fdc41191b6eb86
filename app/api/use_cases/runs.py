"""Running a use case for LangServe's model-calling endpoints, metered, in LangServe's protocol.

Every endpoint goes the same way: read and validate the request as LangServe does (input
schema, config keys, the `c/{config_hash}` share link's config merged in), so that admission
sees the model each input will really use; admit it; run it with the meter among its callbacks;
answer in the shape `RemoteRunnable` and the playground expect.

`invoke`, `batch` and `stream` are ours: LangServe's `batch` drops every callback but its own
(so its runs were unmetered), its `invoke` records each callback event for a field it leaves out,
and its streams end any failure with a fixed "Internal Server Error". `stream_log` and
`stream_events` stay LangServe's, their fixed error event replaced by the real one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import merge_configs
from langserve import APIHandler
from langserve.api_handler import (
    _unpack_input,
    _unpack_request_config,
    _update_config_with_defaults,
)
from langserve.serialization import WellKnownLCSerializer
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from app.errors import InvalidRequest, invalid_json, sse_error_event
from app.http.disconnect import until_disconnected
from app.http.request_state import request_state
from app.settings import Settings
from app.streams.kept import KeptStreams, StreamOptions
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.call_meter import CallMeter
from app.usage.lifecycle import TEMPLATE_ALLOWANCE, MeteredRequest, PlannedCall, ledger_label
from app.use_cases.kit import TENANT_ID, UseCase
from app.use_cases.versions import PROMPT_VERSION, load_prompt_versions

if TYPE_CHECKING:  # OpenTelemetry is imported only when traces are sent
    from app.observability.tracing import Tracing

Events = AsyncIterator[dict[str, Any]]

SERIALIZER = WellKnownLCSerializer()  # LangServe's own: messages and documents as it sends them
_CONFIG_KEYS = ("configurable",)  # what a client may set in a config, as LangServe's default


@dataclass(frozen=True)
class Runs:
    """A request's validated inputs, each with its config (one, except for batch)."""

    inputs: list[Any]
    configs: list[RunnableConfig]
    bounds: list[int]  # the most tokens each run's call can take, as admission reserves
    server_config: RunnableConfig | None = None  # merged into `configs` once admitted


class ChainRuns:
    """One use case's model-calling endpoints."""

    def __init__(
        self, use_case: UseCase, runnable: Runnable[Any, Any], settings: Settings,
        tracing: Tracing | None, streams: KeptStreams,
    ) -> None:  # fmt: skip
        self.name = use_case.name
        self.runnable = runnable
        self.handler = APIHandler(
            runnable, path=f"/{use_case.name}", playground_type=use_case.playground_type
        )
        self._default_model = settings.model_for(use_case.name)
        self._tracing = tracing
        self._streams = streams
        self.keepalive = settings.stream_keepalive_seconds
        own_prompt = settings.prompts_dir / f"{use_case.name}.yaml"
        self._prompts = (
            load_prompt_versions(settings.prompts_dir, use_case.name)
            if own_prompt.is_file()
            else None
        )

    # --- the endpoints ---------------------------------------------------------------------

    async def invoke(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        runs = await self._admit(request, principal, metered, config_hash, "invoke")
        [input_], [config] = runs.inputs, runs.configs
        output = await until_disconnected(request, self.runnable.ainvoke(input_, config=config))
        metadata = {"run_id": str(config["run_id"]), "feedback_tokens": []}
        return await self._answer(request, metered, output, metadata)

    async def batch(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        runs = await self._admit(request, principal, metered, config_hash, "batch")
        work = self.runnable.abatch(runs.inputs, config=runs.configs)
        outputs = await until_disconnected(request, work)
        run_ids = [str(config["run_id"]) for config in runs.configs]
        responses = [{"run_id": run_id, "feedback_tokens": []} for run_id in run_ids]
        metadata = {"run_ids": run_ids, "responses": responses}
        return await self._answer(request, metered, outputs, metadata)

    async def stream(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        options = _stream_options(await _json_object(request))  # before admission: free
        runs = await self._admit(request, principal, metered, config_hash, "stream")
        [input_], [config] = runs.inputs, runs.configs
        events = metered_events(self._stream(input_, config), metered)
        if options.kept:
            owner = StreamOwner(principal.tenant.id, self.name)
            return await self._streams.start(str(config["run_id"]), owner, events, metered, options)
        return EventSourceResponse(events, ping=self.keepalive)  # type: ignore[arg-type]

    async def resume(
        self, run_id: str, principal: Principal, last_event_id: str | None
    ) -> Response:
        """A resumable stream's events after `last_event_id`, then the live rest."""
        owner = StreamOwner(principal.tenant.id, self.name)
        return await self._streams.resume(run_id, owner, last_event_id)

    async def stream_log(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        return await self._delegated(
            self.handler.stream_log, request, principal, metered, config_hash, "stream_log"
        )

    async def stream_events(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        return await self._delegated(
            self.handler.astream_events, request, principal, metered, config_hash, "stream_events"
        )

    # --- the steps they share --------------------------------------------------------------

    async def _admit(
        self, request: Request, principal: Principal, metered: MeteredRequest,
        config_hash: str, endpoint: str,
    ) -> Runs:  # fmt: skip
        """Validate, then admit with the model each input will use, then add the server's
        config (meter, tenant, tracing) to every run's config."""
        return await self.admitted(await self._read(request, config_hash, endpoint), principal,
                                   metered)  # fmt: skip

    async def admitted(self, runs: Runs, principal: Principal, metered: MeteredRequest) -> Runs:
        """`runs` (read and validated) admitted, each config given the server's part."""
        planned = [
            PlannedCall(self._alias(config), bound)
            for bound, config in zip(runs.bounds, runs.configs, strict=True)
        ]
        meter = await metered.admit(principal, self.name, planned)
        versions = [self._prompt_version(config) for config in runs.configs]
        if self._prompts is not None:
            meter.prompt = ledger_label([self._prompts.label(v) for v in versions if v])
        # One server config per run, the run's prompt version in it (LangServe's own stream
        # routes read only the server's config): one config merge per run, as without versions.
        servers = [self._server_config(principal, meter, version) for version in versions]
        configs = [
            merge_configs(config, server)
            for config, server in zip(runs.configs, servers, strict=True)
        ]
        return Runs(runs.inputs, configs, runs.bounds, servers[0])

    def _prompt_version(self, config: RunnableConfig) -> int | None:
        """The version of the use case's prompt a run gets: the client's pin (validated against
        the versions there are), else the prompt files' draw."""
        if self._prompts is None:
            return None
        pinned = config.get("configurable", {}).get(PROMPT_VERSION)
        return pinned if isinstance(pinned, int) else self._prompts.draw()

    async def _read(self, request: Request, config_hash: str, endpoint: str) -> Runs:
        body = await _json_object(request)
        for field in ("config", "kwargs"):  # LangServe's reader fails with a TypeError (500)
            if field in body and not isinstance(body[field], dict | list):
                raise InvalidRequest(
                    f'"{field}", when given, must be an object.', param=field,
                    code="invalid_field",
                )  # fmt: skip
        if endpoint != "batch":
            config, input_ = await self.handler._get_config_and_input(
                request, config_hash, endpoint=endpoint
            )  # LangServe's own reading (private; langserve is pinned to 0.3.3)
            return Runs([input_], [config], [token_bound(body.get("input"), config)])
        return await self._read_batch(request, body, config_hash)

    async def _read_batch(self, request: Request, body: dict[str, Any], config_hash: str) -> Runs:
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
                raise _located(exc, "config", index) from None
        inputs = []
        for index, (raw, config_) in enumerate(zip(raw_inputs, configs, strict=True)):
            schema = self.runnable.with_config(config_).input_schema
            try:
                inputs.append(_unpack_input(schema.model_validate(raw)))
            except ValidationError as exc:
                raise _located(exc, "inputs", index) from None
        bounds = [token_bound(raw, config) for raw, config in zip(raw_inputs, configs, strict=True)]
        return Runs(inputs, configs, bounds)

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

    def _alias(self, config: RunnableConfig) -> str:
        alias = config.get("configurable", {}).get("model")
        return alias if isinstance(alias, str) else self._default_model

    def _server_config(
        self, principal: Principal, meter: CallMeter, prompt_version: int | None
    ) -> RunnableConfig:
        tracing = self._tracing
        configurable: dict[str, Any] = {TENANT_ID: principal.tenant.id}  # last: clients can't
        if prompt_version is not None:
            configurable[PROMPT_VERSION] = prompt_version
        return {
            "callbacks": [meter, tracing.chain_spans()] if tracing else [meter],
            "configurable": configurable,
            # Carried to LangSmith runs when LangSmith tracing is on.
            "metadata": {
                "tenant": principal.tenant.id,
                "request_id": meter.request_id,
                "client_request_id": meter.client_request_id,
                "prompt": meter.prompt,
            },
        }

    async def _answer(
        self, request: Request, metered: MeteredRequest, output: Any, metadata: dict[str, Any]
    ) -> Response:
        """The body RemoteRunnable expects, the ledger row written first."""
        request_state(request).upstream_seconds += metered.meter.upstream_seconds
        await metered.close(200)
        body = {"output": orjson.Fragment(SERIALIZER.dumps(output)), "metadata": metadata}
        return Response(orjson.dumps(body), media_type="application/json")

    async def _stream(self, input_: Any, config: RunnableConfig) -> Events:
        """LangServe's stream events: `metadata` just before the first chunk, `data` per chunk,
        then `end`. A failure raises (`metered_events` makes it the error event)."""
        started = False
        async for chunk in self.runnable.astream(input_, config=config):
            if not started:
                started = True
                yield {"event": "metadata", "data": json.dumps({"run_id": str(config["run_id"])})}
            yield {"event": "data", "data": SERIALIZER.dumps(chunk).decode()}
        yield {"event": "end"}

    async def _delegated(
        self, stream: Any, request: Request, principal: Principal, metered: MeteredRequest,
        config_hash: str, endpoint: str,
    ) -> Response:  # fmt: skip
        runs = await self._admit(request, principal, metered, config_hash, endpoint)
        # Validated and admitted: LangServe reads the request again itself.
        response = await stream(request, config_hash=config_hash, server_config=runs.server_config)
        events = with_real_errors(response.body_iterator)
        response.body_iterator = metered_events(events, metered)
        response.ping_interval = self.keepalive
        return response


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise invalid_json(exc.msg) from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            'The request body must be a JSON object: {"input": ..., "config": {...}}.',
            code="invalid_json",
        )
    return body


def _stream_options(body: dict[str, Any]) -> StreamOptions:
    """`resumable` and `on_disconnect` from the body's `config.configurable` (read here, as
    LangServe drops configurable keys its runnable does not declare)."""
    config = body.get("config")
    configurable = config.get("configurable") if isinstance(config, dict) else None
    if not isinstance(configurable, dict):
        return StreamOptions()
    resumable = configurable.get("resumable", False)
    if not isinstance(resumable, bool):
        raise InvalidRequest(
            "config.configurable.resumable must be true or false.",
            param="config.configurable.resumable", code="invalid_field",
        )  # fmt: skip
    policy = configurable.get("on_disconnect")
    if policy not in (None, "cancel", "continue"):
        raise InvalidRequest(
            'config.configurable.on_disconnect must be "cancel" or "continue".',
            param="config.configurable.on_disconnect", code="invalid_field",
        )  # fmt: skip
    return StreamOptions(resumable, policy)


def token_bound(raw_input: Any, config: RunnableConfig) -> int:
    """The most tokens an input can take: its bytes (a token covers one or more), the prompt
    template's allowance, and the reply's limit when the client set one."""
    max_tokens = config.get("configurable", {}).get("max_tokens")
    reply = max_tokens if isinstance(max_tokens, int) else 0
    return len(orjson.dumps(raw_input)) + TEMPLATE_ALLOWANCE + reply


def _located(exc: ValidationError, field: str, index: int) -> RequestValidationError:
    """A batch item's validation errors, located at the item (`inputs.2.prompt`)."""
    return RequestValidationError(
        [{**error, "loc": (field, index, *error["loc"])} for error in exc.errors()]
    )


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


async def metered_events(events: Events, metered: MeteredRequest) -> Events:
    """Pass the events on; the ledger row is written before the last one (`end` or `error`)
    goes out. A failure becomes the error event; a stream never ends with `end` after one.
    A client that leaves is recorded by the request's metering as it ends."""
    metrics = metered.metrics
    metrics.active_streams.inc()
    try:
        async for event in events:
            kind = event.get("event")
            if kind == "error":
                status = int(json.loads(event["data"]).get("status_code", 500))
                await metered.close(status, interrupted=True)
            elif kind == "end":
                await metered.close(200)
            yield event
    except Exception as exc:
        error_event = sse_error_event(exc)
        await metered.close(int(json.loads(error_event["data"])["status_code"]), interrupted=True)
        yield error_event
    finally:
        metrics.active_streams.dec()
