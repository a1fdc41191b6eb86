"""The OpenAPI document, complete: every body a route reads, and the errors every route answers.

FastAPI documents the bodies of parameters it parses itself. The use cases' LangServe routes and
/v1 read their own bodies (for speed, and to validate as LangServe does), so their request and
response bodies are declared here, with `Documented.body(...)` as the route's `openapi_extra`;
the models' schemas are added to the document's components. Every route also documents the
platform's error body for each error status it can answer, so generic tools (schemathesis,
client generators) can drive the whole platform.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF = "#/components/schemas/{model}"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    """Every error the platform answers, in OpenAI's shape (app/errors.py)."""

    error: ErrorDetail


def _error_response(description: str, body: type[BaseModel]) -> dict[str, Any]:
    """A documented error answer. Its schema is a reference, not a `model`: FastAPI builds a
    validating field for each model of each route's responses, which cost two thirds of
    building the app (13 statuses on each of a hundred routes)."""
    schema = {"$ref": _REF.format(model=body.__name__)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


#: The errors any route may answer (a 401 or 404 included: keys and routes are checked first).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _error_response(description, ErrorBody)
    for status, description in (
        (400, "Bad request (/v1), or a provider's refusal of it"),
        (401, "No key, or an unknown, revoked or expired one"),
        (403, "Not allowed for the caller's tenant"),
        (404, "Not found"),
        (409, "A name taken already"),
        (413, "Body too large"),
        (415, "Body not sent as JSON (or, for an upload, as multipart/form-data)"),
        (422, "Invalid input, naming the field"),
        (429, "A limit or budget of the caller, or the provider's rate limit"),
        (500, "A bug of the platform (logged)"),
        (502, "The model provider failed"),
        (503, "Unavailable: shutting down, or every deployment failing"),
        (504, "The model provider did not answer in time"),
    )
}


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicErrorBody(BaseModel):
    """An error under Anthropic's paths (/v1/messages), in Anthropic's shape (app/errors.py)."""

    type: Literal["error"]
    error: AnthropicErrorDetail


#: The same errors, as Anthropic's paths answer them: a request it cannot read is a 400.
ANTHROPIC_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _error_response(response["description"], AnthropicErrorBody)
    for status, response in ERROR_RESPONSES.items()
    if status not in (409, 415, 422)
}

#: One Server-Sent Event of a use case's stream (LangServe's protocol): `metadata` (the run's
#: id), a `data` chunk, and `end`, or an `error` (its status and the error's fields) instead.
LANGSERVE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["metadata", "data", "error", "end"]},
        "data": {"type": "string"},
        "id": {"type": "string", "description": "The event's number, on a resumable stream."},
    },
    "required": ["event"],
}
#: One Server-Sent Event of a /v1 stream (OpenAI's protocol): a JSON chunk, an error chunk
#: (`{"error": {...}}`, then nothing), or `[DONE]`.
OPENAI_EVENT = {
    "type": "object",
    "properties": {
        "data": {"type": "string"},
        "id": {"type": "string", "description": "The event's number, on a resumable stream."},
    },
    "required": ["data"],
}

#: One Server-Sent Event of a typed stream (the Responses API's, Anthropic's Messages'): its
#: type as `event`, and its JSON `data`, which names the type again.
TYPED_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
    "required": ["event", "data"],
}


def event_stream(events: dict[str, Any], *, answers_json: bool = False) -> dict[str, Any]:
    """The `openapi_extra` of a GET route answering Server-Sent Events like `events` (or, if
    `answers_json`, some JSON object, as the client asks)."""
    content: dict[str, Any] = {"text/event-stream": {"schema": events}}
    if answers_json:
        content["application/json"] = {"schema": {"type": "object"}}
    return {"responses": {"200": {"description": "Successful Response", "content": content}}}


class Documented:
    """Schemas of the bodies routes read themselves, for one app's OpenAPI document.

    A route gets its `$ref` at once; the schemas are generated with the document, on its first
    request: generating them at startup cost a third of a cold start's app building."""

    def __init__(self) -> None:
        self._models: dict[str, type[BaseModel]] = {}

    def ref(self, model: type[BaseModel]) -> dict[str, str]:
        if self._models.setdefault(model.__name__, model) is not model:
            raise ValueError(f"OpenAPI schema '{model.__name__}' is defined twice, differently")
        return {"$ref": _REF.format(model=model.__name__)}

    def form(
        self, request: type[BaseModel], events: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The `openapi_extra` of a route reading a multipart form like `request` (its files
        typed as binary strings) and answering some JSON object, or events like `events`."""
        answer: dict[str, Any] = (
            {"text/event-stream": {"schema": events}}
            if events is not None
            else {"application/json": {"schema": {"type": "object"}}}
        )
        return {
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": self.ref(request)}},
            },
            "responses": {"200": {"description": "Successful Response", "content": answer}},
        }

    def schemas(self) -> dict[str, Any]:
        """Every referenced model's schema, with the schemas it refers to."""
        schemas: dict[str, Any] = {}
        for model in (*self._models.values(), ErrorBody, AnthropicErrorBody):
            schema = model.model_json_schema(ref_template=_REF)
            for name, part in {**schema.pop("$defs", {}), model.__name__: schema}.items():
                if schemas.setdefault(name, part) != part:  # two models of one name
                    raise ValueError(f"OpenAPI schema '{name}' is defined twice, differently")
        return schemas

    def body(
        self, request: type[BaseModel], response: type[BaseModel] | None = None, *,
        events: dict[str, Any] | None = None, answers_json: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """The `openapi_extra` of a route reading `request`, answering `response` (or, with
        `answers_json`, some JSON object) and, if it streams, Server-Sent Events like `events`
        (OpenAPI 3.1: an event stream's schema describes one event)."""
        content: dict[str, Any] = {}
        if events is not None:
            content["text/event-stream"] = {"schema": events}
        if response is not None:
            content["application/json"] = {"schema": self.ref(response)}
        elif answers_json:
            content["application/json"] = {"schema": {"type": "object"}}
        extra: dict[str, Any] = {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": self.ref(request)}},
            }
        }
        if content:
            extra["responses"] = {"200": {"description": "Successful Response", "content": content}}
        return extra

    def install(self, app: FastAPI) -> None:
        """Make `app.openapi()` the complete document (built once, on first request)."""

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:
                document = get_openapi(
                    title=app.title, version=app.version, description=app.description,
                    routes=app.routes,
                )  # fmt: skip
                components = document.setdefault("components", {}).setdefault("schemas", {})
                for name, schema in self.schemas().items():
                    if components.setdefault(name, schema) != schema:
                        raise ValueError(f"OpenAPI schema '{name}' is defined twice, differently")
                app.openapi_schema = document
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]
