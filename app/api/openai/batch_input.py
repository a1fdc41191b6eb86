"""A batch's input file read as OpenAI reads it: one JSON request per line,
`{"custom_id", "method": "POST", "url", "body"}`, each for the batch's endpoint. A file that is
not so fails its batch with `errors` naming each bad line (up to `MAX_ERRORS` of them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_LINES = 50_000
MAX_ERRORS = 100
MAX_CUSTOM_ID = 512
#: Asked of a line's body, they would not answer as a batch's results can hold.
_NOT_IN_A_BATCH = ("stream", "background")


@dataclass
class BatchInput:
    """The requests of a file, and what is wrong with it (OpenAI's `errors.data`)."""

    lines: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, code: str, message: str, line: int | None = None,
               param: str | None = None) -> None:  # fmt: skip
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})


def read_batch_input(content: bytes, endpoint: str, max_line_bytes: int) -> BatchInput:
    read = BatchInput()
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        read.refuse("invalid_file", f"The file is not UTF-8 text (byte {exc.start} is not): "
                    "send JSONL, one JSON request per line.")  # fmt: skip
        return read
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(read.lines) >= MAX_LINES:
            read.refuse("too_many_lines", f"A batch has at most {MAX_LINES} requests; split "
                        "the file.", number)  # fmt: skip
            break
        _read_line(read, number, line, endpoint, max_line_bytes, seen)
    if not read.lines and not read.errors:
        read.refuse("empty_file", "The file holds no request: send JSONL, one JSON request "
                    "per line.")  # fmt: skip
    return read


def _read_line(read: BatchInput, number: int, line: str, endpoint: str, max_bytes: int,
               seen: set[str]) -> None:  # fmt: skip
    size = len(line.encode())
    if size > max_bytes:
        read.refuse("line_too_large", f"Line {number} has {size} bytes, more than the "
                    f"{max_bytes} a request may have.", number)  # fmt: skip
        return
    try:
        request = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        read.refuse("invalid_json_line", f"Line {number} is not JSON ({exc}); each line is "
                    "one JSON request.", number)  # fmt: skip
        return
    if not isinstance(request, dict):
        read.refuse("invalid_request", f"Line {number} is not a JSON object with custom_id, "
                    "method, url and body.", number)  # fmt: skip
        return
    custom_id = request.get("custom_id")
    if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID:
        read.refuse("invalid_custom_id", f"Line {number}: custom_id must be a string of 1 to "
                    f"{MAX_CUSTOM_ID} characters.", number, "custom_id")  # fmt: skip
        return
    if custom_id in seen:
        message = f"Line {number}: custom_id '{custom_id}' is used by an earlier line."
        read.refuse("duplicate_custom_id", message, number, "custom_id")
        return
    seen.add(custom_id)
    if request.get("method") != "POST":
        read.refuse("invalid_method", f"Line {number}: method must be POST.", number, "method")
        return
    if request.get("url") != endpoint:
        read.refuse("mismatched_endpoint", f"Line {number} is for {request.get('url')!r}, not "
                    f"the batch's endpoint {endpoint}.", number, "url")  # fmt: skip
        return
    body = request.get("body")
    if not isinstance(body, dict):
        read.refuse("invalid_body", f"Line {number}: body must be the JSON object of the "
                    "request.", number, "body")  # fmt: skip
        return
    for name in _NOT_IN_A_BATCH:
        if body.get(name):
            message = f"Line {number}: body.{name} is not supported in a batch (it answers whole)."
            read.refuse("invalid_body", message, number, f"body.{name}")
            return
    read.lines.append((custom_id, body))
