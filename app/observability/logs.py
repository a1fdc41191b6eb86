"""Logging for `genai serve`: one line per request, JSON or readable text, keys always masked.

`request_log` carries each request's fields (request id, tenant, route, model, status, tokens,
latency, TTFT) as `extra={"request": ...}`: the JSON format emits them as one object per line,
the text format as `key=value` pairs. Prompt and completion text appear only with
`GENAI_LOG_PROMPTS=true`. A key that reaches any line (a URL, a message) is masked.
"""

from __future__ import annotations

import copy
import logging
import re
import sys
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter
from uvicorn.config import LOGGING_CONFIG

KEY_PATTERN = re.compile(r"(gp-[0-9a-f]+-)[0-9a-f]{8,}")

request_log = logging.getLogger("app.requests")


def _redact(value: object) -> object:
    if isinstance(value, str) and "gp-" in value:  # the plain test spares most values the regex
        return KEY_PATTERN.sub(r"\1***", value)
    return value


class RedactKeys(logging.Filter):
    """Masks the secret part of API keys in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        fields = getattr(record, "request", None)
        if isinstance(fields, dict):
            record.request = {key: _redact(value) for key, value in fields.items()}
        return True


class JsonLines(OrjsonFormatter):
    """One JSON object per line: time, level, logger, message, and the request's fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message)
        log_data.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        fields = log_data.pop("request", None)
        if isinstance(fields, dict):
            log_data.update(fields)


class ReadableLines(logging.Formatter):
    """uvicorn's look, with a request's fields as `key=value` after the message."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s:     %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "request", None)
        if isinstance(fields, dict):
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return line


def skip_unused_record_fields() -> None:
    """Spare each record the caller's frame, thread and process lookups, which no format here
    prints (the logging HOWTO's "Optimization"): a tenth of a /v1 request's CPU went to its
    log line."""
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """Every logger (ours and uvicorn's) through one handler on stdout, keys redacted.

    `log_format` "auto" is text at a terminal (`make run`) and JSON otherwise (containers).
    uvicorn's access log is off: the platform's request line replaces it.
    """
    if log_format == "auto":
        log_format = "text" if sys.stdout.isatty() else "json"
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"] = {
        "json": {"()": f"{__name__}.JsonLines"},
        "text": {"()": f"{__name__}.ReadableLines"},
    }
    config["filters"] = {"redact_keys": {"()": f"{__name__}.RedactKeys"}}
    config["handlers"] = {
        "default": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": log_format,
            "filters": ["redact_keys"],
        }
    }
    for name in ("uvicorn", "uvicorn.error", "app"):
        config["loggers"][name] = {"handlers": ["default"], "level": level.upper()}
    for name in ("uvicorn", "uvicorn.error", "app"):
        config["loggers"][name]["propagate"] = False
    config["loggers"]["uvicorn.access"] = {"handlers": [], "propagate": False}
    return config
