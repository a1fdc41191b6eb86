"""/v1 routes: thin; the work is in serving.py."""

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from app.api.deps import MeteredEndpoint, route_guard
from app.api.openai.batches import BatchCreate, BatchesServing
from app.api.openai.completions import CHAT, COMPLETION
from app.api.openai.embeddings import EmbeddingRequest
from app.api.openai.files import FilesServing, FileUpload
from app.api.openai.images import ImageEditRequest, ImageGenerationRequest
from app.api.openai.moderations import ModerationRequest
from app.api.openai.not_served import add_not_served_route
from app.api.openai.protocol import ChatCompletionRequest, CompletionRequest
from app.api.openai.responses import ResponsesServing
from app.api.openai.responses_request import ResponseRequest
from app.api.openai.serving import OpenAIServing
from app.http.json_body import api_router
from app.http.openapi import OPENAI_EVENT, TYPED_EVENT, Documented, event_stream
from app.tenants.models import Principal

v1_guard = Depends(route_guard("v1"))
Caller = Annotated[Principal, v1_guard]
#: The number of the last event a reconnecting client received.
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]


def build_router(
    serving: OpenAIServing, responses: ResponsesServing, files: FilesServing,
    batches: BatchesServing, documented: Documented,
) -> APIRouter:  # fmt: skip
    """The /v1 routes over `serving`, `responses`, `files` and `batches`, the bodies they read
    themselves documented, then a clear 404 or 405 for every other path under /v1
    (not_served.py)."""

    async def read_response(
        response_id: str, principal: Caller, stream: bool = False,
        starting_after: Annotated[int | None, Query(ge=0)] = None,
    ) -> Any:  # fmt: skip
        return await responses.retrieve(response_id, principal, stream=stream,
                                        starting_after=starting_after)  # fmt: skip

    async def cancel_response(response_id: str, principal: Caller) -> dict[str, Any]:
        return await responses.cancel(response_id, principal)

    async def delete_response(response_id: str, principal: Caller) -> dict[str, Any]:
        return await responses.delete(response_id, principal)

    async def list_input_items(
        response_id: str, principal: Caller, after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        order: Literal["asc", "desc"] = "desc",
    ) -> dict[str, Any]:  # fmt: skip
        return await responses.input_items(response_id, principal, after=after, limit=limit,
                                           order=order)  # fmt: skip

    async def resume_chat(
        completion_id: str, principal: Caller, last_event_id: LastEventId = None
    ) -> Response:
        return await serving.resume(CHAT, completion_id, principal, last_event_id)

    async def resume_completion(
        completion_id: str, principal: Caller, last_event_id: LastEventId = None
    ) -> Response:
        return await serving.resume(COMPLETION, completion_id, principal, last_event_id)

    async def upload_file(request: Request, principal: Caller) -> dict[str, Any]:
        return await files.upload(request, principal)

    async def list_files(
        principal: Caller, after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
        order: Literal["asc", "desc"] = "desc", purpose: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        return await files.listed(principal, after=after, limit=limit, order=order,
                                  purpose=purpose)  # fmt: skip

    async def read_file(file_id: str, principal: Caller) -> dict[str, Any]:
        return await files.get(principal, file_id)

    async def file_content(file_id: str, principal: Caller) -> Response:
        return await files.content(principal, file_id)

    async def delete_file(file_id: str, principal: Caller) -> dict[str, Any]:
        return await files.delete(principal, file_id)

    async def create_batch(request: Request, principal: Caller) -> dict[str, Any]:
        return await batches.create(request, principal)

    async def list_batches(
        principal: Caller, after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:  # fmt: skip
        return await batches.listed(principal, after=after, limit=limit)

    async def read_batch(batch_id: str, principal: Caller) -> dict[str, Any]:
        return await batches.get(principal, batch_id)

    async def cancel_batch(batch_id: str, principal: Caller) -> dict[str, Any]:
        return await batches.cancel(principal, batch_id)

    async def list_models(principal: Caller) -> dict[str, Any]:
        return serving.models(principal)

    async def read_model(alias: str, principal: Caller) -> dict[str, Any]:
        return serving.model(principal, alias)

    # The routes that reach a model check their caller themselves (MeteredEndpoint), so that
    # FastAPI solves no dependency for them; the others take it as `Caller` (route_guard).
    router = api_router(prefix="/v1", tags=["openai"])
    for path, handle, body in (
        ("/chat/completions", partial(serving.complete, CHAT), ChatCompletionRequest),
        ("/completions", partial(serving.complete, COMPLETION), CompletionRequest),
    ):
        router.add_api_route(
            path, MeteredEndpoint("v1", handle), methods=["POST"], response_model=None,
            openapi_extra=documented.body(body, events=OPENAI_EVENT, answers_json=True),
        )  # fmt: skip
    router.add_api_route(
        "/responses", MeteredEndpoint("v1", responses.create), methods=["POST"],
        response_model=None,
        openapi_extra=documented.body(ResponseRequest, events=TYPED_EVENT, answers_json=True),
    )  # fmt: skip
    for path, handle, body in (
        ("/embeddings", serving.embed, EmbeddingRequest),
        ("/moderations", serving.moderate, ModerationRequest),
        ("/images/generations", serving.generate_images, ImageGenerationRequest),
    ):
        router.add_api_route(
            path, MeteredEndpoint("v1", handle), methods=["POST"], response_model=None,
            openapi_extra=documented.body(body, answers_json=True),
        )  # fmt: skip
    router.add_api_route(
        "/images/edits", MeteredEndpoint("v1", serving.edit_images), methods=["POST"],
        response_model=None, openapi_extra=documented.form(ImageEditRequest),
    )  # fmt: skip
    for path, endpoint in (
        ("/chat/completions/{completion_id}/stream", resume_chat),
        ("/completions/{completion_id}/stream", resume_completion),
    ):
        router.add_api_route(
            path, endpoint, methods=["GET"], response_model=None,
            openapi_extra=event_stream(OPENAI_EVENT),
        )  # fmt: skip
    router.add_api_route("/responses/{response_id}", read_response, methods=["GET"],
                         response_model=None,
                         openapi_extra=event_stream(TYPED_EVENT, answers_json=True))  # fmt: skip
    router.add_api_route("/responses/{response_id}/cancel", cancel_response, methods=["POST"])
    router.add_api_route("/responses/{response_id}", delete_response, methods=["DELETE"])
    router.add_api_route("/responses/{response_id}/input_items", list_input_items,
                         methods=["GET"])  # fmt: skip
    router.add_api_route("/files", upload_file, methods=["POST"],
                         openapi_extra=documented.form(FileUpload))  # fmt: skip
    router.add_api_route("/files", list_files, methods=["GET"])
    router.add_api_route("/files/{file_id}", read_file, methods=["GET"])
    router.add_api_route("/files/{file_id}/content", file_content, methods=["GET"],
                         response_model=None)  # fmt: skip
    router.add_api_route("/files/{file_id}", delete_file, methods=["DELETE"])
    router.add_api_route("/batches", create_batch, methods=["POST"],
                         openapi_extra=documented.body(BatchCreate, answers_json=True))  # fmt: skip
    router.add_api_route("/batches", list_batches, methods=["GET"])
    router.add_api_route("/batches/{batch_id}", read_batch, methods=["GET"])
    router.add_api_route("/batches/{batch_id}/cancel", cancel_batch, methods=["POST"])
    router.add_api_route("/models", list_models, methods=["GET"])
    router.add_api_route("/models/{alias}", read_model, methods=["GET"])
    add_not_served_route(router, v1_guard)  # last: what no route above serves
    return router
