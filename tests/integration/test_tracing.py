"""Traces reach an OTLP collector, and runs reach LangSmith, when (and only as) configured.

Both receivers are ours, on loopback: an OTLP/HTTP endpoint decoding the protobuf export,
and a LangSmith API answering the client's run uploads.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.integration.conftest import RunningPlatform, platform_process
from tests.support.fault_upstream import running_fault_upstream
from tests.support.servers import serving
from tests.support.upstream_config import upstream_config

PROMPT = "a-prompt-that-stays-out-of-traces"


def receivers() -> Starlette:
    """An OTLP/HTTP trace endpoint and the LangSmith endpoints its client calls."""

    async def traces(request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource in export.resource_spans:
            for scope in resource.scope_spans:
                request.app.state.spans.extend(scope.spans)
        return Response(status_code=200)

    async def langsmith_runs(request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "zstd":
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        request.app.state.runs.append(body)
        return JSONResponse({})

    async def langsmith_info(_: Request) -> Response:
        return JSONResponse({"version": "0.0.0"})

    app = Starlette(
        routes=[
            Route("/otlp/v1/traces", traces, methods=["POST"]),
            Route("/langsmith/info", langsmith_info),
            Route("/langsmith/runs/{kind}", langsmith_runs, methods=["POST"]),
            Route("/langsmith/runs", langsmith_runs, methods=["POST"]),
        ]
    )
    app.state.spans, app.state.runs = [], []
    return app


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[RunningPlatform, Starlette]]:
    app = receivers()
    with running_fault_upstream() as upstream_url, serving(app) as receiver:
        env = {
            "GENAI_CONFIG_FILE": str(upstream_config(tmp_path, upstream_url)),
            "GENAI_OTLP_ENDPOINT": f"{receiver}/otlp",
            "LANGSMITH_TRACING": "true",
            "LANGSMITH_ENDPOINT": f"{receiver}/langsmith",
            "LANGSMITH_API_KEY": "ls-test-key",
        }
        with platform_process(tmp_path / "data", **env) as running:
            yield running, app


def _attributes(span) -> dict[str, str]:
    return {a.key: str(getattr(a.value, a.value.WhichOneof("value"))) for a in span.attributes}


def _wait(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)


async def test_a_chain_request_is_one_trace_and_a_langsmith_run(traced):
    platform, receiver = traced
    async with platform.client() as client:
        await client.get("/me")  # waits for the use cases, which load after startup
        invoked = await client.post(
            "/generate/invoke",
            json={"input": {"prompt": PROMPT}},
            headers={"X-Request-Id": "traced-request"},
        )
        chat = {"model": "fast", "messages": [{"role": "user", "content": PROMPT}]}
        assert (await client.post("/v1/chat/completions", json=chat)).status_code == 200
        signed_in = await client.post(  # the key in a body: a span must never hold it
            "/signin", json={"key": platform.admin_key}, headers={"Origin": platform.url}
        )
        assert signed_in.status_code == 204
    assert invoked.status_code == 200
    os.kill(platform.pid, signal.SIGTERM)  # the spans still buffered are sent at shutdown
    _wait(lambda: any(s.name == "POST /v1/chat/completions" for s in receiver.state.spans))
    spans = receiver.state.spans

    servers = [s.name for s in spans if s.kind == s.SPAN_KIND_SERVER]
    assert servers.count("POST /v1/chat/completions") == 1, f"one server span: {servers}"
    request_span = next(s for s in spans if s.name == "POST /generate/invoke")
    in_trace = [s for s in spans if s.trace_id == request_span.trace_id]
    names = [s.name for s in in_trace]
    assert any(name.startswith("chain ") for name in names)
    chain_spans = [s for s in in_trace if s.name.startswith("chain ")]
    assert {_attributes(s).get("genai.prompt") for s in chain_spans} == {"generate@1"}
    model_span = next(s for s in in_trace if s.name.startswith("chat "))
    assert _attributes(model_span)["gen_ai.request.model"] == "fast"  # the alias
    by_id = {s.span_id: s for s in in_trace}
    provider_call = next(
        s for s in in_trace if s.kind == s.SPAN_KIND_CLIENT and s.name.startswith("POST")
    )
    assert "/chat/completions" in " ".join(_attributes(provider_call).values())
    parent = by_id[provider_call.parent_span_id]  # nested under the model call's chain
    assert parent.trace_id == request_span.trace_id

    v1_span = next(s for s in spans if s.name == "POST /v1/chat/completions")
    assert any(s.kind == s.SPAN_KIND_CLIENT and s.trace_id == v1_span.trace_id for s in spans), (
        "the provider call of /v1 is in the request's trace"
    )

    assert any(s.name == "POST /signin" for s in spans)
    everything = " ".join(f"{s.name} {_attributes(s)}" for s in spans)
    assert PROMPT not in everything
    assert platform.admin_key.rsplit("-", 1)[1] not in everything

    _wait(lambda: any(b"traced-request" in run for run in receiver.state.runs))
    runs = b"".join(receiver.state.runs)
    assert b"traced-request" in runs and b'"tenant"' in runs  # our metadata on the run
