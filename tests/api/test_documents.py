"""POST /summarize/file: a document uploaded as a form, its text summarized with progress
events, metered like /summarize; every document it cannot read is a clear 4xx that bills
nothing, hostile ones included (read in a process of its own, within 2 s here).

The model is the echo upstream (it replies with its prompt): the summary shows what the chain
read.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from app.main import create_app
from app.settings import Settings
from tests.conftest import ECHO_MODELS
from tests.support.documents import (
    AES_PDF,
    deep_page_tree_pdf,
    docx,
    docx_bomb,
    encrypted_pdf,
    entity_docx,
    html_bomb,
    malformed_docx,
    pdf,
)
from tests.support.echo_upstream import echo_services
from tests.support.sse import Event, aiter_events
from tests.support.tenancy import build_platform

PAGES = [f"Page {n} tells how the council planted {n} new trees by the river." for n in range(1, 7)]


@pytest.fixture
async def client(make_settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(models=ECHO_MODELS, summarize_chunk_chars=200, document_max_pages=8,
                             document_parse_seconds=2)  # fmt: skip
    app = create_app(services=echo_services(settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://platform"
    ) as client:
        yield client


async def upload(
    client: httpx.AsyncClient, name: str, data: bytes, kind: str = "", **fields: str
) -> tuple[httpx.Response, list[Event]]:
    files = {"file": (name, data, kind or "application/octet-stream")}
    async with client.stream("POST", "/summarize/file", data=fields, files=files) as response:
        if response.status_code != 200:
            await response.aread()
            return response, []
        return response, [event async for event in aiter_events(response)]


def summary(events: list[Event]) -> str:
    return "".join(event.json() for event in events if event.event == "data")


async def rows(client: httpx.AsyncClient) -> list[dict]:
    return (await client.get("/usage")).json()["records"]


async def test_a_multi_page_pdf_streams_its_progress_then_the_summary(client):
    _, events = await upload(client, "report.pdf", pdf(PAGES), "application/pdf",
                                    style="bullets", model="other")  # fmt: skip
    kinds = [event.event for event in events]
    assert kinds[:2] == ["document", "metadata"] and kinds[-1] == "end"
    assert events[0].json() == {"filename": "report.pdf", "type": "pdf", "pages": 6,
                                "characters": len("\n\n".join(PAGES))}  # fmt: skip
    progress = [event.json() for event in events if event.event == "progress"]
    first = [step for step in progress if step["round"] == 1]
    assert [step["part"] for step in first] == list(range(1, len(first) + 1)) and len(first) > 1
    assert {step["of"] for step in first} == {len(first)}
    assert kinds.index("progress") < kinds.index("data")  # progress, then the summary
    text = summary(events)
    assert text.startswith("[other ") and "bullet points" in text
    [row] = await rows(client)
    assert (row["route"], row["status"], row["model"]) == ("summarize", 200, "other")
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0


@pytest.mark.parametrize(
    ("name", "data", "kind", "seen", "hidden"),
    [
        ("notes.docx", docx(["Minutes of the meeting.", "The budget passed."]), "",
         "The budget passed.", None),
        ("page.html", b"<html><script>steal()</script><p>The park opens in May.</p></html>",
         "text/html", "The park opens in May.", "steal()"),
        ("notes.txt", "Caf\u00e9 prices rose.".encode(), "text/plain", "Caf\u00e9 prices rose.",
         None),
        ("README.md", b"# Plan\n\n- Plant trees", "", "- Plant trees", None),
    ],
)  # fmt: skip
async def test_each_supported_format_is_read_as_text(client, name, data, kind, seen, hidden):
    response, events = await upload(client, name, data, kind)
    assert response.status_code == 200
    text = summary(events)
    assert seen in text
    assert hidden is None or hidden not in text


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("secret.pdf", encrypted_pdf(["Hidden."]), 400, "encrypted_file"),
        ("long.pdf", pdf([f"Page {n}." for n in range(9)]), 400, "too_many_pages"),
        ("broken.pdf", b"%PDF-1.4\nnot really a PDF at all", 400, "unreadable_file"),
        ("fake.pdf", b"just text pretending", 415, "unsupported_file_type"),
        ("fake.docx", b"PK\x03\x04 not a zip", 400, "unreadable_file"),
        ("photo.png", b"\x89PNG\r\n\x1a\n....", 415, "unsupported_file_type"),
        ("latin1.txt", "Caf\u00e9".encode("latin-1"), 400, "unreadable_file"),
        ("blank.pdf", pdf([""]), 422, "no_text"),
    ],
)
async def test_a_document_that_cannot_be_read_is_a_clear_4xx_and_bills_nothing(
    client, name, data, status, code
):
    """A file of another type is refused before admission (no row); one that is read, after
    it (its row records the refusal: it counted against the tenant's limits, at no cost)."""
    response, _ = await upload(client, name, data)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, "file")
    assert name in error["message"]
    if code == "too_many_pages":  # the setting it names is the one there is
        assert "GENAI_DOCUMENT_MAX_PAGES" in error["message"]
        assert "document_max_pages" in Settings.model_fields
    stored = await rows(client)
    if code == "unsupported_file_type":
        assert stored == []
    else:
        [row] = stored
        assert (row["status"], row["input_tokens"], row["cost_usd"]) == (status, 0, 0)


async def test_the_forms_other_fields_are_checked_like_the_json_input(client):
    response, _ = await upload(client, "a.txt", b"Some text.", "text/plain", style="poem")
    assert response.status_code == 422
    assert response.json()["error"]["param"].endswith("style")
    missing = await client.post("/summarize/file", files={"style": (None, "bullets")})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "file"
    as_json = await client.post("/summarize/file", json={"text": "x"})
    assert as_json.status_code == 415
    assert await rows(client) == []


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("aes.pdf", AES_PDF.read_bytes(), "encrypted_file"),  # pypdf lacks its cipher
        ("deep.pdf", deep_page_tree_pdf(), "unreadable_file"),  # pypdf's LimitReachedError
        ("malformed.docx", malformed_docx(), "unreadable_file"),  # an XMLSyntaxError
        ("laughs.docx", entity_docx(), "unreadable_file"),  # entity expansion
        ("bomb.docx", docx_bomb(), "document_too_complex"),  # 140 KB, 34 MB of XML
        ("huge.html", html_bomb(), "document_too_complex"),  # 8 MB of markup
        ("pages.pdf", pdf([f"Page {n}." for n in range(80_000)]), "document_too_complex"),
    ],
    ids=["aes", "deep-page-tree", "malformed-docx", "entity-docx", "docx-bomb", "html-bomb",
         "80k-pages"],
)  # fmt: skip
async def test_a_hostile_document_is_a_400_naming_the_file_never_a_500(client, name, data, code):
    response, _ = await upload(client, name, data)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, "file")
    [row] = await rows(client)
    assert (row["status"], row["cost_usd"]) == (400, 0)


async def test_a_tenants_limits_refuse_a_document_before_it_is_read(make_settings):
    """rpm 1: the second upload, a DOCX bomb whose reading would take its full 5 s, is refused
    by the limit at once; nothing is read for it and its tenant is billed nothing."""
    settings = make_settings(auth_enabled=True, models=ECHO_MODELS, document_parse_seconds=5)
    platform = build_platform(settings)
    platform.tenant("thrifty", rpm=1)
    async with platform.client(platform.key("thrifty")) as client:
        first, _ = await upload(client, "notes.txt", b"The council approved a park.")
        started = time.monotonic()
        bomb, _ = await upload(client, "bomb.docx", docx_bomb())
        refused_after = time.monotonic() - started
        stored = await rows(client)
    assert first.status_code == 200
    assert bomb.status_code == 429 and bomb.json()["error"]["code"] == "rpm_exceeded"
    assert refused_after < 2, f"refused after {refused_after:.1f} s: it was read first"
    assert [row["status"] for row in stored] == [200]
