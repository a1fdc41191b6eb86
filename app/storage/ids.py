"""Ids that sort as they were made: a page of files or batches is ordered by id alone."""

from __future__ import annotations

import secrets
import time


def ordered_id(prefix: str) -> str:
    """`prefix` and the time in nanoseconds (16 hex digits until the year 2262), then 8
    random bytes: later ids sort after earlier ones, and no two replicas make the same one."""
    return f"{prefix}{time.time_ns():016x}{secrets.token_hex(8)}"
