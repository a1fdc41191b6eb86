"""The text of an uploaded document: PDF (pypdf), DOCX (python-docx), HTML (Beautiful Soup),
plain text and Markdown; within a page limit, with a clear 4xx for what cannot be read."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from app.errors import BadRequest, InvalidRequest, UnsupportedMediaType

PDF, DOCX, HTML, TEXT = "pdf", "docx", "html", "text"
_SUFFIXES = {".pdf": PDF, ".docx": DOCX, ".html": HTML, ".htm": HTML, ".txt": TEXT,
             ".md": TEXT, ".markdown": TEXT}  # fmt: skip
_MEDIA_TYPES = {
    "application/pdf": PDF,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": DOCX,
    "text/html": HTML,
    "text/plain": TEXT,
    "text/markdown": TEXT,
}
SUPPORTED = "PDF, DOCX, HTML, TXT or Markdown"


@dataclass(frozen=True)
class Document:
    filename: str
    kind: str
    pages: int | None  # a PDF's
    text: str


def _unreadable(filename: str, why: str) -> BadRequest:
    return BadRequest(f"'{filename}' could not be read: {why}.", param="file",
                      code="unreadable_file")  # fmt: skip


def kind_of(filename: str, content_type: str, data: bytes) -> str:
    """What the file is: its first bytes for PDF and DOCX, else its name, else its type."""
    if data.startswith(b"%PDF-"):
        return PDF
    suffix = PurePosixPath(filename.lower()).suffix
    if data.startswith(b"PK") and suffix == ".docx":
        return DOCX
    kind = _SUFFIXES.get(suffix) or _MEDIA_TYPES.get(content_type.partition(";")[0].strip())
    if kind is None or kind in (PDF, DOCX):  # named so, but not what it says it is
        raise UnsupportedMediaType(
            f"'{filename}' is not a document this route reads; send {SUPPORTED}.",
            param="file", code="unsupported_file_type",
        )  # fmt: skip
    return kind


def extract(filename: str, content_type: str, data: bytes, max_pages: int) -> Document:
    """The document's text; 400 unreadable or encrypted, 415 unsupported, 422 no text."""
    kind = kind_of(filename, content_type, data)
    pages = None
    if kind == PDF:
        text, pages = _pdf(filename, data, max_pages)
    elif kind == DOCX:
        text = _docx(filename, data)
    else:
        try:
            decoded = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _unreadable(filename, "it is not UTF-8 text") from None
        text = _html(decoded) if kind == HTML else decoded
    text = "\n".join(line.rstrip() for line in text.splitlines()).strip()
    if not text:
        raise InvalidRequest(
            f"'{filename}' holds no text to summarize (a scanned PDF has only images).",
            param="file", code="no_text",
        )  # fmt: skip
    return Document(filename, kind, pages, text)


def _pdf(filename: str, data: bytes, max_pages: int) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadRequest(
                f"'{filename}' is encrypted; send it without a password.",
                param="file", code="encrypted_file",
            )  # fmt: skip
        count = len(reader.pages)
        if count > max_pages:
            raise BadRequest(
                f"'{filename}' has {count} pages; at most {max_pages} are summarized "
                "(GENAI_SUMMARIZE_MAX_PAGES). Send fewer pages.",
                param="file", code="too_many_pages",
            )  # fmt: skip
        return "\n\n".join(page.extract_text() or "" for page in reader.pages), count
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise _unreadable(filename, f"it is not a readable PDF ({exc})") from None


def _docx(filename: str, data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _unreadable(filename, f"it is not a readable DOCX file ({exc})") from None
    return "\n".join(paragraph.text for paragraph in document.paragraphs)


def _html(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "template", "noscript"]):
        hidden.decompose()
    return soup.get_text("\n")
