"""Three `genai serve` replicas sharing this machine's Redis and PostgreSQL act as one.

A round-robin client spreads requests over them, as a load balancer would.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest

from tests.integration.conftest import RunningPlatform, platform_process
from tests.support.databases import fresh_postgres
from tests.support.fault_upstream import create_fault_upstream, running_fault_upstream
from tests.support.redis_state import fresh_prefix, redis_or_skip
from tests.support.sse import Event, aiter_events
from tests.support.upstream_config import upstream_config

CHAT = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}


class RoundRobin:
    """One client per replica; each request goes to the next replica."""

    def __init__(self, replicas: list[RunningPlatform], key: str) -> None:
        self.clients = [replica.client(key) for replica in replicas]
        self._next = itertools.cycle(range(len(self.clients)))

    def post(self, path: str, body: dict) -> asyncio.Future[httpx.Response]:
        return asyncio.ensure_future(self.clients[next(self._next)].post(path, json=body))

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, object]]:
    app = create_fault_upstream()
    with running_fault_upstream(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def shared(tmp_path_factory, upstream) -> tuple[Path, dict[str, str]]:
    """The data folder and the environment every replica of the module shares."""
    env = {
        "GENAI_DATABASE_URL": fresh_postgres(),
        "GENAI_REDIS_URL": redis_or_skip(),
        "GENAI_REDIS_PREFIX": fresh_prefix(),
        "GENAI_SECRET_KEY": "replicas-share-this-secret",
        "GENAI_HOST": "127.0.0.1",
        "GENAI_BACKGROUND_CHECK_SECONDS": "0.2",
    }
    folder = tmp_path_factory.mktemp("replicas")
    env["GENAI_CONFIG_FILE"] = str(upstream_config(folder, upstream[0]))
    return folder / "data", env


@pytest.fixture(scope="module")
def replicas(shared) -> Iterator[list[RunningPlatform]]:
    data, env = shared
    with ExitStack() as stack:
        # The first start creates the admin key (in the shared data folder), then two more.
        running = [stack.enter_context(platform_process(data, **env))]
        running += [stack.enter_context(platform_process(data, **env)) for _ in "ab"]
        yield running


def said(text: str) -> dict:
    return {"messages": [{"type": "human", "content": text}]}


async def _ledger(replica: RunningPlatform, tenant: str) -> list[dict]:
    async with replica.client() as admin:
        return (await admin.get(f"/usage?tenant={tenant}")).json()["records"]


async def test_rpm_30_over_three_replicas_admits_exactly_30_of_150(replicas):
    key = await replicas[1].tenant_key("acme", rpm=30)
    client = RoundRobin(replicas, key)
    responses = await asyncio.gather(
        *(client.post("/v1/chat/completions", CHAT) for _ in range(150))
    )
    await client.aclose()
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 30
    assert statuses.count(429) == 120, sorted(set(statuses))
    assert len(await _ledger(replicas[2], "acme")) == 30


async def test_a_chat_session_started_on_one_replica_continues_on_another(replicas, upstream):
    key = await replicas[0].tenant_key("chatty")
    config = {"config": {"configurable": {"session_id": "shared-session", "model": "fast"}}}
    async with replicas[0].client(key) as first, replicas[2].client(key) as second:
        one = await first.post("/chat/invoke", json={"input": said("my name is Ada"), **config})
        two = await second.post("/chat/invoke", json={"input": said("what is my name?"), **config})
        history = await second.get("/chat/history", params={"session_id": "shared-session"})
    assert one.status_code == two.status_code == 200
    sent = upstream[1].state.bodies["ok"]["messages"]  # what replica 3 sent the model
    assert any("my name is Ada" in message["content"] for message in sent)
    stored = [message["data"]["content"] for message in history.json()["messages"]]
    assert len(stored) == 4 and stored[0] == "my name is Ada"


async def test_a_response_is_continued_on_another_replica_by_its_id(replicas, upstream):
    key = await replicas[0].tenant_key("responder")
    first, third = (
        openai.AsyncOpenAI(base_url=f"{replica.url}/v1", api_key=key, max_retries=0)
        for replica in (replicas[0], replicas[2])
    )
    one = await first.responses.create(model="fast", input="my name is Ada")
    two = await third.responses.create(model="fast", input="what is my name?",
                                       previous_response_id=one.id)  # fmt: skip
    assert two.status == "completed" and two.previous_response_id == one.id
    sent = upstream[1].state.bodies["ok"]["messages"]  # what replica 3 sent the model
    assert [m["content"] for m in sent] == ["my name is Ada", one.output_text, "what is my name?"]
    assert (await third.responses.retrieve(one.id)).output_text == one.output_text
    await first.responses.delete(one.id)
    with pytest.raises(openai.NotFoundError):
        await third.responses.retrieve(one.id)


def _sdks(replicas: list[RunningPlatform], key: str) -> list[openai.AsyncOpenAI]:
    return [openai.AsyncOpenAI(base_url=f"{replica.url}/v1", api_key=key, max_retries=0)
            for replica in replicas]  # fmt: skip


async def _status_becomes(sdk: openai.AsyncOpenAI, response_id: str, status: str) -> None:
    for _ in range(200):
        if (await sdk.responses.retrieve(response_id)).status == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{response_id} never became {status}")


async def test_a_background_response_is_cancelled_from_another_replica(replicas, upstream):
    key = await replicas[0].tenant_key("canceller")
    first, second, _ = _sdks(replicas, key)
    queued = await first.responses.create(model="slow", input="Hi", background=True)
    await _status_becomes(second, queued.id, "in_progress")  # replica 1 is answering it
    upstream[1].state.closed_at.pop("slow", None)
    assert (await second.responses.cancel(queued.id)).status == "cancelled"
    for _ in range(100):  # replica 1 sees the cancel at its next check (0.2 s) and stops
        if "slow" in upstream[1].state.closed_at:
            break
        await asyncio.sleep(0.05)
    assert "slow" in upstream[1].state.closed_at, "the upstream call was closed"
    assert (await first.responses.retrieve(queued.id)).status == "cancelled"
    [row] = await _ledger(replicas[0], "canceller")
    assert (row["status"], row["interrupted"]) == (499, True)


async def test_a_budget_is_never_overspent_across_replicas(replicas):
    # A request reserves up to ~$0.7 (its prompt's bytes and max_tokens), then costs $0.013.
    key = await replicas[2].tenant_key("thrifty", budget_usd=2.0, allowed_models=["priced"])
    client = RoundRobin(replicas, key)
    body = {**CHAT, "model": "priced", "max_tokens": 16}
    statuses = []
    for _ in range(3):  # waves of 60 concurrent requests
        wave = await asyncio.gather(*(client.post("/v1/chat/completions", body) for _ in range(60)))
        statuses += [response.status_code for response in wave]
    await client.aclose()
    rows = await _ledger(replicas[0], "thrifty")
    assert statuses.count(200) == len(rows) >= 1
    assert 429 in statuses
    assert sum(row["cost_usd"] for row in rows) <= 2.0


async def _first_events(client: httpx.AsyncClient, path: str, body: dict, count: int) -> list:
    got: list[Event] = []
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        async for event in aiter_events(response):
            got.append(event)
            if len(got) == count:
                return got  # the client's connection drops
    raise AssertionError("the stream ended early")


async def _resumed(client: httpx.AsyncClient, path: str, last_event_id: str) -> list[Event]:
    async with client.stream("GET", path, headers={"Last-Event-ID": last_event_id}) as response:
        assert response.status_code == 200
        return [event async for event in aiter_events(response)]


@pytest.mark.parametrize("surface", ["v1", "chain"])
async def test_a_stream_started_on_one_replica_resumes_on_another(replicas, surface):
    """The connection to replica 1 drops mid-answer; the client reconnects to replica 2 with
    the last event id it saw, and receives every event exactly once."""
    tenant = f"mobile-{surface}"
    key = await replicas[0].tenant_key(tenant)
    if surface == "v1":
        path = "/v1/chat/completions"
        body = {**CHAT, "model": "paced", "stream": True, "stream_options": {"resumable": True}}
    else:
        path = "/complete/stream"
        body = {"input": {"text": "Once"},
                "config": {"configurable": {"model": "paced", "resumable": True}}}  # fmt: skip
    async with replicas[0].client(key) as first, replicas[1].client(key) as second:
        before = await _first_events(first, path, body, 6)
        if surface == "v1":
            resume = f"{path}/{before[0].json()['id']}/stream"
        else:
            resume = f"{path}/{before[0].json()['run_id']}"
        after = await _resumed(second, resume, before[-1].id)
    events = before + after
    assert [int(event.id) for event in events] == list(range(1, len(events) + 1))
    assert events[-1].data == "[DONE]" if surface == "v1" else events[-1].event == "end"
    for _ in range(50):
        rows = await _ledger(replicas[2], tenant)
        if rows:
            break
        await asyncio.sleep(0.1)
    assert [(row["status"], row["interrupted"]) for row in rows] == [(200, False)]


async def test_a_call_followed_from_another_replica_is_made_again_when_its_replica_dies(
    replicas, shared, upstream
):
    """A replica answering a call that an identical request on another replica follows is
    killed: the follower makes the call itself once the claim lapses, and stores it."""
    key = await replicas[0].tenant_key("followers")
    body = {**CHAT, "model": "paced", "temperature": 0}
    hits, (data, env) = upstream[1].state.hits, shared
    with platform_process(data, **env) as doomed:
        async with doomed.client(key) as leader, replicas[0].client(key) as follower:
            before = hits["paced"]
            leading = asyncio.ensure_future(leader.post("/v1/chat/completions", json=body))
            await asyncio.sleep(0.5)
            following = asyncio.ensure_future(follower.post("/v1/chat/completions", json=body))
            await asyncio.sleep(0.5)
            os.kill(doomed.pid, signal.SIGKILL)
            answered = await following
            await asyncio.gather(leading, return_exceptions=True)
            again = await follower.post("/v1/chat/completions", json=body)
    assert answered.status_code == 200, answered.text
    assert answered.headers["cache-status"] == "genai; fwd=miss; stored"
    assert answered.json()["choices"][0]["message"]["content"]
    assert again.headers["cache-status"] == "genai; hit"
    assert hits["paced"] == before + 2


async def test_killing_a_replica_mid_load_loses_no_row_of_a_completed_request(replicas):
    key = await replicas[0].tenant_key("steady")
    client = RoundRobin(replicas, key)
    body = {**CHAT, "model": "paced"}
    load = [client.post("/v1/chat/completions", body) for _ in range(30)]
    await asyncio.sleep(0.5)
    os.kill(replicas[2].pid, signal.SIGKILL)
    results = await asyncio.gather(*load, return_exceptions=True)
    await client.aclose()
    completed = {
        r.headers["x-request-id"] for r in results
        if isinstance(r, httpx.Response) and r.status_code == 200
    }  # fmt: skip
    assert 0 < len(completed) < 30  # the killed replica's requests failed
    stored = {row["request_id"] for row in await _ledger(replicas[0], "steady")}
    assert completed <= stored


async def test_a_background_response_its_replica_died_answering_is_reported_failed(replicas):
    key = await replicas[0].tenant_key("orphaned")
    first, second, _ = _sdks(replicas, key)
    queued = await second.responses.create(model="slow", input="Hi", background=True)
    await _status_becomes(first, queued.id, "in_progress")
    os.kill(replicas[1].pid, signal.SIGKILL)
    await _status_becomes(first, queued.id, "failed")  # after 5 checks not shown alive: 1 s
    failed = await first.responses.retrieve(queued.id)
    assert failed.error.code == "server_error" and "stopped" in failed.error.message
