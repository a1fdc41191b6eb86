"""Documents for upload tests, made here: a PDF with a line of text per page (written by hand,
as no PDF writer is a dependency), its encrypted twin (pypdf), a DOCX (python-docx), and the
hostile ones: parser limits, malformed XML, entity expansion, zip and markup bombs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def pdf(pages: list[str]) -> bytes:
    """A valid PDF whose page n shows `pages[n]` in Helvetica (pypdf reads it back)."""
    count = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{4 + 2 * i} 0 R".encode() for i in range(count))
        + f"] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * index} "
            "0 R /Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    return _pdf_file(objects)


def encrypted_pdf(pages: list[str], password: str = "secret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(pages))))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(paragraphs: list[str]) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


#: An AES-256 PDF with a user password, made with pypdf and `cryptography` (which the platform
#: does not install: pypdf then cannot even try the empty password).
AES_PDF = Path(__file__).with_name("files") / "aes-256.pdf"


def deep_page_tree_pdf(depth: int = 120) -> bytes:
    """A PDF whose one page sits `depth` page-tree nodes down (pypdf stops at 100)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        parent = f"/Parent {level + 1} 0 R " if level else ""
        objects.append(f"<< /Type /Pages {parent}/Kids [{level + 3} 0 R] /Count 1 >>".encode())
    objects.append(f"<< /Type /Page /Parent {depth + 1} 0 R /MediaBox [0 0 9 9] >>".encode())
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))  # fmt: skip
    return out.getvalue()


def _docx_with(document_xml: bytes) -> bytes:
    """A real DOCX (python-docx's) whose word/document.xml is `document_xml`."""
    source = zipfile.ZipFile(io.BytesIO(docx(["x"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in source.infolist():
            data = source.read(member)
            archive.writestr(member, document_xml if member.filename == "word/document.xml"
                             else data)  # fmt: skip
    return out.getvalue()


W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def malformed_docx() -> bytes:
    return _docx_with(b"<w:document " + W + b"><w:body><w:p><w:r>")


def entity_docx() -> bytes:
    """Billion laughs: entities that expand to each other (python-docx refuses the DTD)."""
    laughs = b'<!ENTITY a "ha">' + b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + n]), (b"&%s;" % bytes([97 + n])) * 10) for n in range(8)
    )
    body = b"<w:body><w:p><w:r><w:t>&i;</w:t></w:r></w:p></w:body>"
    return _docx_with(b"<!DOCTYPE w:document [" + laughs + b"]><w:document " + W + b">" + body
                      + b"</w:document>")  # fmt: skip


def docx_bomb(megabytes: int = 34) -> bytes:
    """A DOCX of some 100 KB whose document.xml unpacks to `megabytes` MB of paragraphs."""
    paragraph = b"<w:p><w:r><w:t>All work and no play.</w:t></w:r></w:p>"
    body = paragraph * (megabytes * 1024 * 1024 // len(paragraph))
    return _docx_with(b"<w:document " + W + b"><w:body>" + body + b"</w:body></w:document>")


def html_bomb(megabytes: int = 8) -> bytes:
    return b"<html><body>" + b"<div><p>word</p>" * (megabytes * 1024 * 1024 // 16) + b"</body>"
