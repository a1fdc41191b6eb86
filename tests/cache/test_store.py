"""The cache's storage on its own: keys that cannot be forged into each other, entries checked
as they are read, and the in-process store's bound, expiry and purge."""

from __future__ import annotations

import unicodedata

import pytest

from app.cache import Entry, MemoryCacheStore, Scope, cache_directives, digest

A, B = Scope("acme", "gpt"), Scope("acme", "local")


def test_a_key_ignores_field_order_and_integral_floats_but_nothing_else():
    assert digest({"a": 1, "b": [0.0, "x"]}) == digest({"b": [0, "x"], "a": 1.0})
    assert digest({"a": None, "b": 1}) == digest({"b": 1})  # an unset field is a missing one
    assert digest("acme:x", "y") != digest("acme", "x:y")  # no separator to forge
    word = unicodedata.normalize("NFC", "café")
    assert digest(word) != digest(unicodedata.normalize("NFD", word))
    assert digest(True) != digest(1) and digest("1") != digest(1)


def entry(key: str = "k", **fields) -> Entry:
    values = {"key": key, "kind": "answer", "body": {"choices": []}, "usage": (3, 4),
              "local": False, "paid_by": "req-1", "created": 100.0, **fields}  # fmt: skip
    return Entry(**values)


def test_an_entry_reads_back_as_written():
    assert Entry.decode(entry().encode(), "k") == entry()
    stream = entry(kind="stream", body=[{"choices": []}], usage=None)
    assert Entry.decode(stream.encode(), "k") == stream


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"[1, 2]", entry().encode()[:20], entry(key="other").encode(),
     entry(kind="stream", body={"choices": []}).encode(), entry(kind="stream", body=[]).encode(),
     entry(usage=("3", 4)).encode(), entry(kind="answer", body=[1]).encode()],
    ids=["empty", "not-json", "not-an-object", "truncated", "another-key", "stream-not-list",
         "empty-stream", "usage-not-ints", "answer-not-object"],
)  # fmt: skip
def test_an_entry_that_is_not_well_formed_is_not_read(raw: bytes):
    assert Entry.decode(raw, "k") is None


async def test_the_least_recently_used_entries_go_first_once_over_the_bound():
    store = MemoryCacheStore(max_bytes=250)
    for key in "abc":
        await store.put(A, key, b"x" * 100, ttl=60)  # the third pushes the first out
    assert await store.get(A, "a") is None
    await store.get(A, "b")  # b used: c is now the least recently used
    await store.put(A, "d", b"x" * 100, ttl=60)
    assert (await store.get(A, "b"), await store.get(A, "c")) == (b"x" * 100, None)
    assert store.stored_bytes() == 200
    assert not await store.put(A, "huge", b"x" * 300, ttl=60)  # larger than the whole bound
    assert await store.get(A, "b") == b"x" * 100  # and it pushed nothing out


async def test_an_entry_expires_after_its_ttl_by_the_stores_clock():
    now = [0.0]
    store = MemoryCacheStore(1000, clock=lambda: now[0])
    await store.put(A, "k", b"v", ttl=10)
    now[0] = 9.9
    assert await store.get(A, "k") == b"v"
    now[0] = 10.0
    assert await store.get(A, "k") is None and store.stored_bytes() == 0


async def test_a_purge_drops_one_alias_or_all_of_a_tenant_and_no_one_elses():
    store = MemoryCacheStore(10_000)
    rival = Scope("rival", "gpt")
    for scope in (A, B, rival):
        await store.put(scope, "k", b"v", ttl=60)
    assert await store.purge("acme", "gpt") == 1
    assert (await store.get(A, "k"), await store.get(B, "k")) == (None, b"v")
    assert await store.purge("acme", None) == 1
    assert await store.get(rival, "k") == b"v"


def test_cache_control_directives_are_read_as_rfc_9111_says():
    read = cache_directives('No-Cache, max-age="30", foo=bar, max-age=x')
    assert (read.no_cache, read.no_store, read.max_age, read.reads, read.writes) == (
        True,
        False,
        30.0,
        False,
        True,
    )
    assert not cache_directives("no-store").writes
    assert cache_directives(None, "off").tenant_mode == "off"
