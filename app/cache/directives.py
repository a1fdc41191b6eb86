"""The cache's HTTP semantics: what a request asks of it, from its `Cache-Control` header
(RFC 9111's request directives) and its tenant's setting; and what it did, as RFC 9211's
`Cache-Status` (with `Age` on a hit)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CacheDirectives:
    """`no-store`: the cache is neither read nor written; `no-cache`: the answer is asked of
    the provider again, and stored; `max-age`: an entry older than this many seconds is not
    used. `tenant_mode` is the tenant's own setting (None: its aliases' own)."""

    no_store: bool = False
    no_cache: bool = False
    max_age: float | None = None
    tenant_mode: str | None = None

    @property
    def reads(self) -> bool:
        return not (self.no_store or self.no_cache)

    @property
    def writes(self) -> bool:
        return not self.no_store


#: A request that asks nothing of the cache, of a tenant with no mode of its own.
NO_DIRECTIVES = CacheDirectives()


def cache_directives(header: str | None, tenant_mode: str | None = None) -> CacheDirectives:
    """The directives of a `Cache-Control` header (unknown ones and malformed values are
    ignored, as RFC 9111 says a cache must)."""
    if not header and tenant_mode is None:
        return NO_DIRECTIVES
    no_store = no_cache = False
    max_age: float | None = None
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name == "no-store":
            no_store = True
        elif name == "no-cache":
            no_cache = True
        elif name == "max-age":
            value = value.strip().strip('"')
            if value.isdigit():
                max_age = float(value)
    return CacheDirectives(no_store, no_cache, max_age, tenant_mode)


def status_headers(status: str | None, age: float | None) -> dict[str, str]:
    """`Cache-Status: genai; <status>`, and `Age` for a hit; none for an uncacheable call."""
    if status is None:
        return {}
    headers = {"Cache-Status": f"genai; {status}"}
    if age is not None:
        headers["Age"] = str(int(age))
    return headers
