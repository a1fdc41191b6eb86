"""Running a use case for LangServe's model-calling endpoints, metered, in LangServe's protocol.

Every endpoint goes the same way: read and validate the request as LangServe does
(langserve_wire.py), so that admission sees the model each input will really use; admit it
(run_admission.py); run it with the meter among its callbacks; answer in the shape
`RemoteRunnable` and the playground expect (run_events.py for streams).

`invoke`, `batch` and `stream` are ours: LangServe's `batch` drops every callback but its own
(so its runs were unmetered), its `invoke` records each callback event for a field it leaves out,
and its streams end any failure with a fixed "Internal Server Error". `stream_log` and
`stream_events` stay LangServe's, their fixed error event replaced by the real one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import Runnable
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from app.api.use_cases.langserve_wire import SERIALIZER, LangServeWire, located
from app.api.use_cases.run_admission import RunAdmission, Runs, token_bound
from app.api.use_cases.run_events import chunk_events, metered_events, stream_options
from app.errors import InvalidRequest, invalid_json
from app.http.disconnect import until_disconnected
from app.http.request_state import request_state
from app.settings import Settings
from app.streams.kept import KeptStreams
from app.streams.log import StreamOwner
from app.tenants.models import Principal
from app.usage.lifecycle import MeteredRequest
from app.use_cases.kit import UseCase

if TYPE_CHECKING:  # OpenTelemetry is imported only when traces are sent
    from app.observability.tracing import Tracing


class ChainRuns:
    """One use case's model-calling endpoints."""

    def __init__(
        self, use_case: UseCase, runnable: Runnable[Any, Any], settings: Settings,
        tracing: Tracing | None, streams: KeptStreams,
    ) -> None:  # fmt: skip
        self.name = use_case.name
        self.runnable = runnable
        self.wire = LangServeWire(runnable, use_case.name, use_case.playground_type)
        self.admission = RunAdmission(use_case.name, settings, tracing)
        self._streams = streams
        self.keepalive = settings.stream_keepalive_seconds

    async def invoke(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        runs = await self._admit(request, principal, metered, config_hash, "invoke")
        [input_], [config] = runs.inputs, runs.configs
        output = await until_disconnected(request, self.runnable.ainvoke(input_, config=config))
        metadata = {"run_id": str(config["run_id"]), "feedback_tokens": []}
        return await self._answer(request, metered, output, metadata)

    async def call(
        self, request: Request, principal: Principal, metered: MeteredRequest,
        raw_input: Any, raw_config: dict[str, Any], callbacks: list[BaseCallbackHandler],
    ) -> Any:  # fmt: skip
        """A run that came other than as LangServe's HTTP (an MCP tool call), read, admitted and
        run as `invoke` is, `callbacks` beside the server's; its output as plain JSON. `request`
        is the HTTP request that carried it (LangServe's config defaults read its headers)."""
        try:
            config = await self.wire.client_config(request, raw_config, "", "invoke")
        except ValidationError as exc:
            raise RequestValidationError(located(exc, "config")) from None
        input_ = self.wire.input_of(raw_input, self.runnable.with_config(config))
        runs = Runs([input_], [config], [token_bound(raw_input, config)])
        [config] = (await self.admission.admitted(runs, principal, metered)).configs
        config["callbacks"] = [*config.get("callbacks", []), *callbacks]
        output = await self.runnable.ainvoke(input_, config=config)
        return orjson.loads(SERIALIZER.dumps(output))

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
        options = stream_options(await json_object(request))  # before admission: free
        runs = await self._admit(request, principal, metered, config_hash, "stream")
        [input_], [config] = runs.inputs, runs.configs
        events = metered_events(chunk_events(self.runnable, input_, config), metered)
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
        return await self._delegated(request, principal, metered, config_hash, "stream_log")

    async def stream_events(
        self, request: Request, principal: Principal, metered: MeteredRequest, config_hash: str
    ) -> Response:
        return await self._delegated(request, principal, metered, config_hash, "stream_events")

    # --- the steps they share --------------------------------------------------------------

    async def _admit(
        self, request: Request, principal: Principal, metered: MeteredRequest,
        config_hash: str, endpoint: str,
    ) -> Runs:  # fmt: skip
        """Validate, then admit with the model each input will use, then add the server's
        config (meter, tenant, tracing) to every run's config."""
        runs = await self._read(request, config_hash, endpoint)
        return await self.admission.admitted(runs, principal, metered)

    async def _read(self, request: Request, config_hash: str, endpoint: str) -> Runs:
        body = await json_object(request)
        for field in ("config", "kwargs"):  # LangServe's reader fails with a TypeError (500)
            if field in body and not isinstance(body[field], dict | list):
                raise InvalidRequest(
                    f'"{field}", when given, must be an object.', param=field,
                    code="invalid_field",
                )  # fmt: skip
        if endpoint != "batch":
            config, input_ = await self.wire.read_one(request, config_hash, endpoint)
            return Runs([input_], [config], [token_bound(body.get("input"), config)])
        inputs, configs = await self.wire.read_batch(request, body, config_hash)
        raw_inputs = body["inputs"]
        bounds = [token_bound(raw, config) for raw, config in zip(raw_inputs, configs, strict=True)]
        return Runs(inputs, configs, bounds)

    async def _answer(
        self, request: Request, metered: MeteredRequest, output: Any, metadata: dict[str, Any]
    ) -> Response:
        """The body RemoteRunnable expects, the ledger row written first."""
        request_state(request).upstream_seconds += metered.meter.upstream_seconds
        await metered.close(200)
        body = {"output": orjson.Fragment(SERIALIZER.dumps(output)), "metadata": metadata}
        headers = metered.meter.account.cache_headers()
        return Response(orjson.dumps(body), media_type="application/json", headers=headers)

    async def _delegated(
        self, request: Request, principal: Principal, metered: MeteredRequest,
        config_hash: str, endpoint: str,
    ) -> Response:  # fmt: skip
        runs = await self._admit(request, principal, metered, config_hash, endpoint)
        assert runs.server_config is not None
        # Validated and admitted: LangServe reads the request again itself.
        response = await self.wire.delegated(endpoint, request, config_hash, runs.server_config)
        response.body_iterator = metered_events(response.body_iterator, metered)
        response.ping_interval = self.keepalive
        return response


async def json_object(request: Request) -> dict[str, Any]:
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
