"""`python -m app.documents.worker SPEC`: one document's text, read in a process of its own.

The document comes on stdin, SPEC (JSON: filename, kind, limits) as the argument, the answer on
stdout: `{"text", "pages"}`, or `{"refused": {"status", "code", "message"}}`. The process runs
at idle priority (SCHED_IDLE: only on a CPU nothing else wants), its address space and CPU time
capped: a parser bomb runs out of its own memory or
time, never the server's, and its memory is the system's again when it exits.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any

from app.documents.extract import Limits, Refused, extract, unreadable


def _too_complex(filename: str) -> Refused:
    return Refused(400, "document_too_complex",
                   f"'{filename}' takes more memory or time to read than a document may; "
                   "send a smaller or simpler one.")  # fmt: skip


def read(spec: dict[str, Any], data: bytes) -> dict[str, Any]:
    filename = spec["filename"]
    limits = Limits(spec["max_pages"], spec["max_chars"])
    try:
        document = extract(filename, spec["kind"], data, limits)
    except Refused as refused:
        return {"refused": _refusal(refused)}
    except MemoryError:
        return {"refused": _refusal(_too_complex(filename))}
    except Exception as exc:  # any other parser failure is the file's: it is all it reads
        return {"refused": _refusal(unreadable(filename, f"{type(exc).__name__}: {exc}"[:300]))}
    return {"text": document.text, "pages": document.pages}


def _refusal(refused: Refused) -> dict[str, Any]:
    return {"status": refused.status, "code": refused.code, "message": refused.message}


def main() -> None:
    spec = json.loads(sys.argv[1])
    memory = spec["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    seconds = max(1, int(spec["cpu_seconds"]))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    # Only a CPU nothing else wants: the server and every other tenant's request come first.
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    answer = read(spec, sys.stdin.buffer.read())
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
