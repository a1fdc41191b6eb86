"""Background responses through the real openai SDK, on a real server: answered at once as
queued, polled to their end, streamed again from any sequence number, cancelled (which stops
the upstream call), each tenant's own, and a live one left by a replica that died reported
failed. Each test runs with the events kept in this process and in Redis.

The answers are our fault upstream's: `paced` takes 2 s (20 chunks, "tick "), `slow` ticks
until the platform closes the call, and notes when it did.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openai
import pytest
from openai.types.responses import Response as SdkResponse
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter
from sqlalchemy import event as sql_events
from sqlalchemy import update
from starlette.applications import Starlette

from app.main import create_app
from app.storage.tables import ResponseRow
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.servers import serving
from tests.support.tenancy import Platform
from tests.support.upstream_config import fault_aliases

TICKS = "tick " * 20
EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture(params=["in-process", "redis"])
def platform(request, make_settings, upstream, upstream_app: Starlette) -> Platform:
    upstream_app.state.closed_at.clear()
    shared = (
        {"redis_url": redis_or_skip(), "redis_prefix": fresh_prefix()}
        if request.param == "redis"
        else {}
    )
    settings = make_settings(auth_enabled=True, models=fault_aliases(upstream, "paced", "slow",
                             "ok"), default_model="ok", background_check_seconds=0.1,
                             **shared)  # fmt: skip
    platform = Platform(create_app(settings))
    platform.tenant("acme")
    platform.tenant("rival")
    return platform


@pytest.fixture
def url(platform: Platform) -> Iterator[str]:
    with serving(platform.app) as base_url:
        yield base_url


@pytest.fixture
async def sdk(platform: Platform, url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=platform.key("acme"),
                                  max_retries=0) as sdk:  # fmt: skip
        yield sdk


@pytest.fixture
async def raw(platform: Platform, url: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.key('acme')}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        yield client


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """`check()`'s first truthy answer, polled as a client polls a background response."""
    for _ in range(200):
        if answer := await check():
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def ended(sdk: openai.AsyncOpenAI, response_id: str) -> SdkResponse:
    async def check() -> SdkResponse | None:
        response = await sdk.responses.retrieve(response_id)
        return None if response.status in ("queued", "in_progress") else response

    return await until(check, f"{response_id} ended")


async def ledger(raw: httpx.AsyncClient) -> list[dict[str, Any]]:
    async def rows() -> list[dict[str, Any]]:
        return (await raw.get("/usage")).json()["records"]

    return await until(rows, "a ledger row")


def texts(events: list[Any]) -> str:
    return "".join(event.delta for event in events if event.type == "response.output_text.delta")


async def test_a_background_response_is_queued_at_once_then_polled_until_it_completes(sdk, raw):
    queued = await sdk.responses.create(model="paced", input="Hi", background=True)
    assert (queued.status, queued.background, queued.output) == ("queued", True, []), (
        "answered before its 2 s answer was"
    )
    response = await ended(sdk, queued.id)
    assert (response.status, response.output_text) == ("completed", TICKS)
    assert response.usage.output_tokens == len(TICKS) // 4
    [row] = await ledger(raw)
    assert (row["route"], row["status"], row["interrupted"]) == ("v1/responses", 200, False)
    assert row["output_tokens"] == response.usage.output_tokens, "the answer is billed once"


async def test_a_background_stream_left_early_is_streamed_again_after_its_last_event(sdk):
    stream = await sdk.responses.create(model="paced", input="Hi", background=True, stream=True)
    before = []
    async for event in stream:
        before.append(event)
        if len(before) == 6:
            break
    await stream.close()  # the client leaves; the answer goes on
    response_id = before[0].response.id
    again = await sdk.responses.retrieve(response_id, stream=True,
                                         starting_after=before[-1].sequence_number)  # fmt: skip
    after = [event async for event in again]
    numbers = [event.sequence_number for event in before + after]
    assert numbers == list(range(len(numbers))), "every event exactly once, in order"
    assert after[-1].type == "response.completed"
    assert texts(before + after) == TICKS
    whole = await sdk.responses.retrieve(response_id, stream=True)
    assert [event.sequence_number async for event in whole] == numbers, "from the start"


async def test_cancelling_stops_the_answer_its_upstream_call_and_its_stream(sdk, raw, upstream_app):
    stream = await sdk.responses.create(model="slow", input="Hi", background=True, stream=True)
    events, asked = [], None
    async for event in stream:  # read to its end: the cancel must end it
        events.append(event)
        if event.type == "response.output_text.delta" and asked is None:
            cancelled = await sdk.responses.cancel(events[0].response.id)
            asked = asyncio.get_running_loop().time()
            assert cancelled.status == "cancelled"
    last = events[-1]
    assert (last.type, last.response.status) == ("response.failed", "cancelled"), (
        "a failure's event, never a completion's"
    )
    assert "response.completed" not in {event.type for event in events}
    closed = await until(lambda: _closed(upstream_app, "slow"), "the upstream call closed")
    assert closed - asked < 1.0, "the upstream call ended with the cancel"
    response_id = last.response.id
    assert (await sdk.responses.retrieve(response_id)).status == "cancelled"
    assert (await sdk.responses.cancel(response_id)).status == "cancelled", "idempotent"
    [row] = await ledger(raw)
    assert (row["status"], row["interrupted"]) == (499, True)
    assert row["output_tokens"] > 0, "what was generated before the cancel is billed"


async def test_a_response_cancelled_as_soon_as_it_is_queued_is_never_answered(
    sdk, raw, upstream_app
):
    calls_before = upstream_app.state.hits["slow"]
    queued = await sdk.responses.create(model="slow", input="Hi", background=True)
    assert (await sdk.responses.cancel(queued.id)).status == "cancelled"
    [row] = await ledger(raw)  # written once the answer's task ended
    assert (row["status"], row["interrupted"]) == (499, True)
    if upstream_app.state.hits["slow"] > calls_before:  # its call was made before the cancel
        await until(lambda: _closed(upstream_app, "slow"), "the upstream call closed")
    response = await sdk.responses.retrieve(queued.id)
    assert (response.status, response.output) == ("cancelled", [])


async def _closed(upstream_app: Starlette, model: str) -> float | None:
    return upstream_app.state.closed_at.get(model)


async def test_the_stream_of_a_response_that_ended_is_its_whole_stream(sdk, raw):
    queued = await sdk.responses.create(model="ok", input="Hi", background=True)
    await ended(sdk, queued.id)
    async with raw.stream("GET", f"/v1/responses/{queued.id}",
                          params={"stream": "true", "starting_after": 2}) as response:  # fmt: skip
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
    events = [EVENTS.validate_json(line[5:]) for line in lines]
    assert events[0].sequence_number == 3 and events[-1].type == "response.completed"


async def test_a_background_response_is_its_tenants_own(platform, url, sdk):
    queued = await sdk.responses.create(model="paced", input="Hi", background=True)
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=platform.key("rival"),
                                  max_retries=0) as rival:  # fmt: skip
        for attempt in (
            rival.responses.retrieve(queued.id),
            rival.responses.cancel(queued.id),
            rival.responses.retrieve(queued.id, stream=True),
        ):
            with pytest.raises(openai.NotFoundError):
                await attempt
    assert (await ended(sdk, queued.id)).status == "completed", "untouched by the rival"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"background": True, "store": False}, "background"),
        ({"background": "yes"}, "background"),
    ],
)
async def test_a_background_request_that_cannot_be_kept_is_refused(raw, body, param):
    response = await raw.post("/v1/responses", json={"model": "ok", "input": "Hi", **body})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert (await raw.get("/usage")).json()["records"] == [], "nothing was admitted"


async def test_what_only_a_background_response_allows_is_refused_on_others(sdk, raw):
    done = await sdk.responses.create(model="ok", input="Hi")
    cancel = await raw.post(f"/v1/responses/{done.id}/cancel")
    again = await raw.get(f"/v1/responses/{done.id}", params={"stream": "true"})
    negative = await raw.get(f"/v1/responses/{done.id}",
                             params={"stream": "true", "starting_after": -1})  # fmt: skip
    assert (cancel.status_code, cancel.json()["error"]["param"]) == (400, "response_id")
    assert (again.status_code, again.json()["error"]["param"]) == (400, "stream")
    assert (negative.status_code, negative.json()["error"]["param"]) == (400, "starting_after")


async def test_a_live_response_cannot_be_followed_up_until_it_ends(sdk):
    queued = await sdk.responses.create(model="paced", input="Hi", background=True)
    with pytest.raises(openai.BadRequestError) as refused:
        await sdk.responses.create(model="ok", input="And?", previous_response_id=queued.id)
    assert refused.value.body["param"] == "previous_response_id"
    await ended(sdk, queued.id)
    follow_up = await sdk.responses.create(model="ok", input="And?",
                                           previous_response_id=queued.id)  # fmt: skip
    assert follow_up.status == "completed"


async def test_a_live_response_its_replica_stopped_answering_is_reported_failed(platform, sdk):
    """As a replica killed mid-answer leaves it: live, and no longer shown alive."""
    queued = await sdk.responses.create(model="ok", input="Hi", background=True)
    await ended(sdk, queued.id)
    services = platform.services
    with services.engine.begin() as connection:  # its replica's last sign, an hour ago
        connection.execute(update(ResponseRow).where(ResponseRow.id == queued.id)
                           .values(status="in_progress",
                                   alive_at=datetime.now(UTC) - timedelta(hours=1)))  # fmt: skip
    failed = await sdk.responses.retrieve(queued.id)
    assert (failed.status, failed.error.code) == ("failed", "server_error")
    assert "stopped" in failed.error.message
    assert (await sdk.responses.retrieve(queued.id)).status == "failed", "and kept failed"


async def test_a_background_request_refused_at_admission_writes_nothing(platform, url):
    platform.tenant("limited", rpm=1)
    written: list[str] = []

    def note(conn, cursor, statement: str, *_: object) -> None:
        if "responses" in statement and statement.lstrip().upper().startswith(("INSERT", "DELETE")):
            written.append(statement.split()[0].upper())

    sql_events.listen(platform.services.engine, "before_cursor_execute", note)
    headers = {"Authorization": f"Bearer {platform.key('limited')}"}
    body = {"model": "ok", "input": "Hi", "background": True}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        admitted = await client.post("/v1/responses", json=body)
        written.clear()
        refused = await client.post("/v1/responses", json=body)
    sql_events.remove(platform.services.engine, "before_cursor_execute", note)
    assert (admitted.status_code, refused.status_code) == (200, 429)
    assert written == [], "a refused request kept nothing, not even for a moment"
