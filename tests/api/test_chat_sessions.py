"""/chat keeps conversations under a session id: stored turns, history reads, interruptions."""

from __future__ import annotations

import asyncio

import httpx

from app.main import create_app
from tests.conftest import ECHO_MODELS, asgi_client
from tests.support.echo_upstream import echo_services
from tests.support.sse import aiter_events


def chat_body(text: str, session_id: str | None = None, **configurable) -> dict:
    if session_id:
        configurable["session_id"] = session_id
    return {
        "input": {"messages": [{"type": "human", "content": text}]},
        "config": {"configurable": configurable},
    }


async def history(client: httpx.AsyncClient, session_id: str) -> list[dict]:
    response = await client.get("/chat/history", params={"session_id": session_id})
    assert response.status_code == 200
    return response.json()["messages"]


async def test_session_history_is_sent_back_to_the_model(echo_client: httpx.AsyncClient):
    await echo_client.post("/chat/invoke", json=chat_body("The secret is 42.", "s-1"))
    response = await echo_client.post("/chat/invoke", json=chat_body("What is it?", "s-1"))
    reply = response.json()["output"]
    assert reply.index("human: The secret is 42.") < reply.index("human: What is it?")
    stored = await history(echo_client, "s-1")
    assert [m["type"] for m in stored] == ["human", "ai", "human", "ai"]


async def test_sessions_are_listed(echo_client: httpx.AsyncClient):
    for session_id in ("b-2", "a-1"):
        await echo_client.post("/chat/invoke", json=chat_body("Hello", session_id))
    response = await echo_client.get("/chat/sessions")
    assert response.json() == {"sessions": ["a-1", "b-2"]}


async def test_without_a_session_nothing_is_kept(echo_client: httpx.AsyncClient):
    await echo_client.post("/chat/invoke", json=chat_body("The secret is 42."))
    response = await echo_client.post("/chat/invoke", json=chat_body("What is it?"))
    assert "42" not in response.json()["output"]


async def test_sessions_do_not_mix(echo_client: httpx.AsyncClient):
    await echo_client.post("/chat/invoke", json=chat_body("The secret is 42.", "s-a"))
    response = await echo_client.post("/chat/invoke", json=chat_body("What is it?", "s-b"))
    assert "42" not in response.json()["output"]


async def test_a_reply_cut_by_a_disconnect_is_stored_and_marked_interrupted(echo_server):
    body = chat_body("Tell me a long story.", "s-cut")
    async with httpx.AsyncClient(base_url=echo_server) as client:
        async with client.stream("POST", "/chat/stream", json=body) as response:
            async for event in aiter_events(response):
                if event.event == "data" and event.json():
                    break  # the client goes away mid-reply
        await asyncio.sleep(0.3)
        stored = await history(client, "s-cut")
    assert [m["type"] for m in stored] == ["human", "ai"]
    reply = stored[1]["data"]
    assert reply["response_metadata"]["interrupted"] is True
    assert reply["content"]  # what was produced before the disconnect is kept


async def test_clearing_a_session_forgets_it(echo_client: httpx.AsyncClient):
    await echo_client.post("/chat/invoke", json=chat_body("Hello", "s-x"))
    response = await echo_client.delete("/chat/history", params={"session_id": "s-x"})
    assert response.json() == {"session_id": "s-x", "deleted": 2}
    gone = await echo_client.get("/chat/history", params={"session_id": "s-x"})
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "no_session"


async def test_concurrent_renames_to_one_id_never_merge_conversations(make_settings, database):
    """Four sessions renamed to one id at once: one wins, three get 409, nothing merges."""
    settings = make_settings(models=ECHO_MODELS, database_url=database)
    app = create_app(services=echo_services(settings))
    async with asgi_client(app) as client:
        for n in range(4):
            await client.post("/chat/invoke", json=chat_body(f"Conversation {n}.", f"s-{n}"))
        renames = await asyncio.gather(*[
            client.post(f"/chat/sessions/s-{n}/rename", json={"to": "merged"}) for n in range(4)
        ])  # fmt: skip
        merged = await history(client, "merged")
    statuses = sorted(response.status_code for response in renames)
    assert statuses == [200, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in renames if r.status_code == 409} == {
        "session_exists"
    }
    assert len(merged) == 2, "one conversation's turn: its question and its answer"
