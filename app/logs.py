"""Logging for `genai serve`: uvicorn's format, with API keys masked in every line.

A browser signs in with `/?token=<key>`, which uvicorn's access log would otherwise record.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

KEY_PATTERN = re.compile(r"(gp-[0-9a-f]+-)[0-9a-f]{8,}")


def _redact(value: object) -> object:
    return KEY_PATTERN.sub(r"\1***", value) if isinstance(value, str) else value


class RedactKeys(logging.Filter):
    """Masks the secret part of API keys in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        return True


def logging_config(level: str) -> dict[str, Any]:
    """uvicorn's logging config with key redaction on every handler, our loggers included."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_keys": {"()": RedactKeys}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_keys"]
    config["loggers"]["app"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    config["loggers"]["uvicorn"]["level"] = level.upper()
    return config
