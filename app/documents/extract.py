"""The text of an uploaded document: PDF (pypdf), DOCX (python-docx), HTML (Beautiful Soup),
plain text and Markdown, within a page limit and a text limit.

Pure parsing, run in a worker process of its own (worker.py): it imports nothing of the
platform, and what it cannot read it refuses with a `Refused` that the reader (reader.py) turns
into the platform's 4xx. Whatever else a parser raises is the file's fault too: the worker
reports it as unreadable, so no file can be a 500.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

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
#: The most a DOCX may unpack to (its XML parts, images included): a zip bomb is refused
#: before any part of it is inflated.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_chars: int


@dataclass(frozen=True)
class Document:
    filename: str
    kind: str
    pages: int | None  # a PDF's
    text: str


class Refused(Exception):
    """A document this route does not read: the status, code and words for the client."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def unreadable(filename: str, why: str) -> Refused:
    return Refused(400, "unreadable_file", f"'{filename}' could not be read: {why}.")


def kind_of(filename: str, content_type: str, data: bytes) -> str:
    """What the file is: its first bytes for PDF and DOCX, else its name, else its type."""
    if data.startswith(b"%PDF-"):
        return PDF
    suffix = PurePosixPath(filename.lower()).suffix
    if data.startswith(b"PK") and suffix == ".docx":
        return DOCX
    kind = _SUFFIXES.get(suffix) or _MEDIA_TYPES.get(content_type.partition(";")[0].strip())
    if kind is None or kind in (PDF, DOCX):  # named so, but not what it says it is
        message = f"'{filename}' is not a document this route reads; send {SUPPORTED}."
        raise Refused(415, "unsupported_file_type", message)
    return kind


def extract(filename: str, kind: str, data: bytes, limits: Limits) -> Document:
    """The document's text; `Refused` for what cannot be summarized (see the module doc)."""
    pages = None
    if kind == PDF:
        text, pages = _pdf(filename, data, limits.max_pages)
    elif kind == DOCX:
        text = _docx(filename, data)
    else:
        try:
            decoded = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise unreadable(filename, "it is not UTF-8 text") from None
        text = _html(decoded) if kind == HTML else decoded
    text = "\n".join(line.rstrip() for line in text.splitlines()).strip()
    if not text:
        message = f"'{filename}' holds no text to summarize (a scanned PDF has only images)."
        raise Refused(422, "no_text", message)
    if len(text) > limits.max_chars:
        raise Refused(
            400, "too_much_text",
            f"'{filename}' holds {len(text)} characters of text; at most {limits.max_chars} are "
            "summarized (GENAI_DOCUMENT_MAX_CHARS). Send a shorter document.",
        )  # fmt: skip
    return Document(filename, kind, pages, text)


def _pdf(filename: str, data: bytes, max_pages: int) -> tuple[str, int]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    encrypted = Refused(400, "encrypted_file",
                        f"'{filename}' is encrypted; send it without a password.")  # fmt: skip
    try:
        reader = PdfReader(io.BytesIO(data))
    except DependencyError:  # it tries the empty password, with a cipher it cannot run
        raise encrypted from None
    if reader.is_encrypted and not _opens_without_password(reader):
        raise encrypted
    count = len(reader.pages)
    if count > max_pages:
        raise Refused(
            400, "too_many_pages",
            f"'{filename}' has {count} pages; at most {max_pages} are summarized "
            "(GENAI_DOCUMENT_MAX_PAGES). Send fewer pages.",
        )  # fmt: skip
    return "\n\n".join(page.extract_text() or "" for page in reader.pages), count


def _opens_without_password(reader: object) -> bool:
    """An encrypted PDF whose user password is empty opens; one whose cipher needs a library
    this server lacks (pypdf's AES needs `cryptography`) counts as locked."""
    try:
        return bool(reader.decrypt(""))  # type: ignore[attr-defined]
    except Exception:
        return False


def _docx(filename: str, data: bytes) -> str:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise unreadable(filename, f"it is not a readable DOCX file ({exc})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise Refused(
            400, "document_too_complex",
            f"'{filename}' unpacks to {unpacked} bytes; at most {MAX_UNPACKED_BYTES} are read. "
            "Send a smaller document.",
        )  # fmt: skip
    document = docx.Document(io.BytesIO(data))
    return "\n".join(paragraph.text for paragraph in document.paragraphs)


def _html(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for hidden in soup(["script", "style", "template", "noscript"]):
        hidden.decompose()
    return soup.get_text("\n")
