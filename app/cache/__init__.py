"""The answer cache's storage: entries, the semantic index and the calls in flight, kept in this
process (`MemoryCacheStore`) or in Redis shared by every replica (`RedisCacheStore`).

What is cached, under which key, and how a hit is billed is decided above (the dispatcher's
cache step, app/providers/cache_step.py, and the call meter); this package only keeps bytes and
vectors, and never calls up. A store that fails (Redis down) answers as if it were empty: a
cache outage costs misses, never errors.
"""

from app.cache.directives import (
    NO_DIRECTIVES,
    CacheDirectives,
    cache_directives,
    status_headers,
)
from app.cache.entry import Entry, Kind
from app.cache.keys import Scope, digest
from app.cache.memory import MemoryCacheStore
from app.cache.store import CacheStore, FlightRecord

__all__ = [
    "NO_DIRECTIVES",
    "CacheDirectives",
    "CacheStore",
    "Entry",
    "FlightRecord",
    "Kind",
    "MemoryCacheStore",
    "Scope",
    "cache_directives",
    "digest",
    "status_headers",
]
