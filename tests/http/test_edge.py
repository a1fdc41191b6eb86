"""The edge on its own, around a bare ASGI app: ids, timings and the request's log line."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from app.http.edge import Edge
from app.http.request_state import request_state

UPSTREAM_SECONDS = 0.05


async def _waits_upstream(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that spends 50 ms waiting on a 'provider', then answers 204."""
    await asyncio.sleep(UPSTREAM_SECONDS)
    state = request_state(scope)
    state.upstream_seconds += UPSTREAM_SECONDS
    state.tenant_id = "acme"
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=Edge(_waits_upstream))
    return httpx.AsyncClient(transport=transport, base_url="http://edge")


def _timings(header: str) -> dict[str, float]:
    return {name: float(dur) for name, dur in re.findall(r"(\w+);dur=([\d.]+)", header)}


async def test_server_timing_splits_the_requests_time_into_platform_and_upstream():
    async with _client() as client:
        response = await client.get("/anything")
    timings = _timings(response.headers["server-timing"])
    assert timings["upstream"] == pytest.approx(UPSTREAM_SECONDS * 1000)
    # The platform's share is what is left of this request's time: a few ms, not the
    # process's uptime (which an overwritten start time once reported).
    assert 0 <= timings["platform"] < 1000 * UPSTREAM_SECONDS


async def test_the_request_id_is_the_platforms_own_unless_the_client_sent_a_sane_one():
    async with _client() as client:
        own = await client.get("/")
        given = await client.get("/", headers={"X-Request-Id": "trace-42"})
        hostile = await client.get("/", headers={"X-Request-Id": "a b\tc"})
    assert re.fullmatch(r"[0-9a-f]{32}", own.headers["x-request-id"])
    assert given.headers["x-request-id"] == "trace-42"
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])


async def test_the_log_line_names_the_tenant_and_the_requests_own_latency(caplog):
    with caplog.at_level(logging.INFO, logger="app.requests"):
        async with _client() as client:
            await client.get("/anything", headers={"X-Request-Id": "trace-7"})
    (record,) = [r for r in caplog.records if r.name == "app.requests"]
    fields = record.request
    assert (fields["tenant"], fields["status"], fields["client_request_id"]) == (
        "acme",
        204,
        "trace-7",
    )
    assert UPSTREAM_SECONDS * 1000 <= fields["latency_ms"] < 2000
