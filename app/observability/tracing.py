"""OpenTelemetry traces, only when an OTLP endpoint is configured; nothing is sent otherwise.

One trace per request: the HTTP server span (FastAPI instrumentation), a span per chain step
and model call (`ChainSpans`, a LangChain callback), and a client span per provider call (the
shared aiohttp pool's instrumentation). API keys are masked in span attributes, and no prompt
or completion text is recorded. LangSmith needs nothing from here: LangChain sends runs to it
when its usual environment variables (`LANGSMITH_TRACING`, `LANGSMITH_API_KEY`…) are set.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import aiohttp
from fastapi import FastAPI
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.outputs import LLMResult
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aiohttp_client import create_trace_config
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Status, StatusCode

from app import __version__
from app.observability.logs import KEY_PATTERN


def _mask_keys(span: Span, *_: Any) -> None:
    """Server-span hook: a key in a request's URL or headers must not reach the trace store."""
    for name, value in (getattr(span, "attributes", None) or {}).items():
        if isinstance(value, str) and KEY_PATTERN.search(value):
            span.set_attribute(name, KEY_PATTERN.sub(r"\1***", value))


class Tracing:
    """The tracer provider of one app, exporting over OTLP/HTTP in batches."""

    def __init__(self, endpoint: str, service_name: str) -> None:
        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        self.provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self.provider.get_tracer("genai-platform")

    def instrument(self, app: FastAPI) -> None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            server_request_hook=_mask_keys,
            excluded_urls="health,ready,metrics",
            exclude_spans=["receive", "send"],  # not one span per streamed chunk
        )

    def client_trace_config(self) -> aiohttp.TraceConfig:
        """A client span per provider call, for the providers' HTTP pool."""
        return create_trace_config(tracer_provider=self.provider)

    def chain_spans(self) -> ChainSpans:
        return ChainSpans(self._tracer)

    def shutdown(self) -> None:
        """Send the spans still buffered."""
        self.provider.shutdown()


class ChainSpans(AsyncCallbackHandler):
    """A span per chain step and model call of one request, nested as LangChain runs them."""

    run_inline = True

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._spans: dict[UUID, Span] = {}

    def _start(
        self, name: str, run_id: UUID, parent_run_id: UUID | None, **attributes: Any
    ) -> None:
        parent = self._spans.get(parent_run_id) if parent_run_id else None
        context = trace.set_span_in_context(parent) if parent else None  # else: the request's
        span = self._tracer.start_span(name, context=context)
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        self._spans[run_id] = span

    def _end(self, run_id: UUID, error: BaseException | None = None, **attributes: Any) -> None:
        span = self._spans.pop(run_id, None)
        if span is None:
            return
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    async def on_chain_start(
        self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
        parent_run_id: UUID | None = None, **kwargs: Any,
    ) -> None:  # fmt: skip
        name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
        prompt = (kwargs.get("metadata") or {}).get("prompt")  # `<name>@<version>`
        self._start(f"chain {name}", run_id, parent_run_id, **{"genai.prompt": prompt})

    async def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    async def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    async def on_chat_model_start(
        self, serialized: dict[str, Any] | None, messages: Any, *, run_id: UUID,
        parent_run_id: UUID | None = None, invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        params = invocation_params or {}
        model = params.get("model") or params.get("model_name")
        self._start(
            f"chat {model or 'model'}", run_id, parent_run_id,
            **{"gen_ai.operation.name": "chat", "gen_ai.request.model": model,
               "gen_ai.request.max_tokens": params.get("max_tokens")},
        )  # fmt: skip

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        usage = (response.llm_output or {}).get("token_usage") or {}
        self._end(
            run_id,
            **{"gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
               "gen_ai.usage.output_tokens": usage.get("completion_tokens")},
        )  # fmt: skip

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)
