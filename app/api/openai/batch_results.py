"""A batch's results as OpenAI writes them: a line of its output or error file per request,
and the result of a request that was not run."""

from __future__ import annotations

from typing import Any

import orjson

from app.storage.batches import SettledLine


def not_run(code: str, message: str) -> dict[str, Any]:
    """A line's result when it was not run (its batch was cancelled, expired, or stopped):
    the line of the error file it answers with."""
    return {"response": None, "error": {"code": code, "message": message}}


CANCELLED = not_run("batch_cancelled", "The batch was cancelled before this request ran.")
EXPIRED = not_run("batch_expired", "The batch's completion window ended before this request "
                  "ran.")  # fmt: skip
ABANDONED = not_run("request_abandoned", "Every replica that took up this request stopped "
                    "while running it; send it again.")  # fmt: skip


def output_line(batch_id: str, settled: SettledLine) -> bytes:
    """A line of the batch's output or error file: its request's id, custom_id, and its
    response or why it has none."""
    line = {"id": f"batch_req_{batch_id.removeprefix('batch_')}_{settled.line}",
            "custom_id": settled.custom_id, "response": settled.result.get("response"),
            "error": settled.result.get("error")}  # fmt: skip
    return orjson.dumps(line) + b"\n"
