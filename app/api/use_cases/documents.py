"""`POST /<use case>/file`: a document uploaded as a form, its text the use case's input.

The form holds the document (`file`), the input's other fields (as text) and the model's
`model` and `temperature`. Admission comes before any reading: a tenant past its limits or
budget is refused before its document costs anything. The file's type is checked first (415,
free); the reading itself runs in a bounded process of its own (app/documents/reader.py), for
an upper bound of the text (the file's bytes: a token covers one or more) that the chain's
model calls top up as they go. The answer streams `document` (what was read), `metadata` (the
run's id), the chain's custom events by their names (`progress`), `data` per chunk of the
output, then `end` (or `error`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from langchain_core.runnables import RunnableConfig
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from app.api.use_cases.langserve_wire import SERIALIZER
from app.api.use_cases.run_admission import Runs
from app.api.use_cases.run_events import Events, metered_events
from app.api.use_cases.runs import ChainRuns
from app.documents.extract import Document
from app.documents.reader import DocumentReader, document_kind
from app.errors import InvalidRequest
from app.http.uploads import read_form
from app.tenants.models import Principal
from app.usage.lifecycle import TEMPLATE_ALLOWANCE, MeteredRequest


async def stream_document(
    runs: ChainRuns, reader: DocumentReader, request: Request, principal: Principal,
    metered: MeteredRequest, field: str,
) -> Response:  # fmt: skip
    """Read the form, admit the run, read its document into `field`, stream the run."""
    form = await read_form(request, ("file",))
    files = form.pop("file", [])
    if len(files) != 1:
        raise InvalidRequest("Send one document as the form's 'file' field.", param="file",
                             code="invalid_field")  # fmt: skip
    [upload] = files
    configurable: dict[str, Any] = {key: form.pop(key) for key in ("model",) if key in form}
    if "temperature" in form:  # a form's fields are text
        configurable["temperature"] = _number(form.pop("temperature"), "temperature")
    try:
        sent = {"configurable": configurable}
        config = await runs.wire.client_config(request, sent, "", "stream")
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    kind = document_kind(upload.filename, upload.content_type, upload.data)
    runs.wire.input_of({**form, field: "text"})  # the other fields checked before admission
    bound = len(upload.data) + len(json.dumps(form)) + TEMPLATE_ALLOWANCE
    admitted = await runs.admission.admitted(Runs([None], [config], [bound]), principal, metered)
    document = await reader.read(upload.filename, kind, upload.data)
    input_ = runs.wire.input_of({**form, field: document.text})
    events = _events(runs, input_, admitted.configs[0], document)
    return EventSourceResponse(metered_events(events, metered), ping=runs.keepalive)  # type: ignore[arg-type]


async def _events(
    runs: ChainRuns, input_: Any, config: RunnableConfig, document: Document
) -> Events:
    described = {"filename": document.filename, "type": document.kind,
                 "pages": document.pages, "characters": len(document.text)}  # fmt: skip
    yield {"event": "document", "data": json.dumps(described)}
    yield {"event": "metadata", "data": json.dumps({"run_id": str(config["run_id"])})}
    async for event in runs.runnable.astream_events(input_, config=config, version="v2"):
        if event["event"] == "on_custom_event":
            yield {"event": event["name"], "data": json.dumps(event["data"])}
        elif event["event"] == "on_chain_stream" and not event["parent_ids"]:
            yield {"event": "data", "data": SERIALIZER.dumps(event["data"]["chunk"]).decode()}
    yield {"event": "end"}


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number.", param=name,
                             code="invalid_field") from None  # fmt: skip
