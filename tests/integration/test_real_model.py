"""All four use cases over real HTTP against the real embedded model (SmolLM2 via llama.cpp)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import FAST, platform_process
from tests.support.sse import aiter_events, read_events

pytestmark = pytest.mark.model

INPUTS = {
    "generate": {"prompt": "Name three colours.", "max_words": 10},
    "complete": {"text": "The capital of France is"},
    "summarize": {
        "text": "The city council met on Monday and approved a new park on the river bank. "
        "Construction starts in May and costs two million euros.",
        "style": "bullets",
    },
    "chat": {"messages": [{"type": "human", "content": "Say hello."}]},
}
ROUTES = list(INPUTS)


@pytest.fixture
async def client(platform):
    async with platform.client() as client:
        yield client


async def test_health_and_ready(client: httpx.AsyncClient):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready"}


@pytest.mark.parametrize("route", ROUTES)
async def test_invoke_answers_with_text(client: httpx.AsyncClient, route: str):
    body = {"input": INPUTS[route], "config": {"configurable": FAST}}
    response = await client.post(f"/{route}/invoke", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["output"].strip()


@pytest.mark.parametrize("route", ROUTES)
async def test_batch_answers_every_input(client: httpx.AsyncClient, route: str):
    body = {"inputs": [INPUTS[route], INPUTS[route]], "config": {"configurable": FAST}}
    response = await client.post(f"/{route}/batch", json=body)
    assert response.status_code == 200, response.text
    outputs = response.json()["output"]
    assert len(outputs) == 2 and all(output.strip() for output in outputs)


@pytest.mark.parametrize("route", ROUTES)
async def test_stream_sends_data_events_then_end(client: httpx.AsyncClient, route: str):
    body = {"input": INPUTS[route], "config": {"configurable": FAST}}
    events = await read_events(client, f"/{route}/stream", body)
    kinds = [event.event for event in events]
    assert kinds[0] == "metadata"
    assert kinds.count("data") >= 3
    assert kinds[-1] == "end"


async def test_max_tokens_bounds_the_real_models_reply(client: httpx.AsyncClient):
    body = {"input": {"text": "One, two, three,"}, "config": {"configurable": {"max_tokens": 3}}}
    output = (await client.post("/complete/invoke", json=body)).json()["output"]
    assert 0 < len(output.split()) <= 3


def long_report() -> str:
    """About 14,000 characters: several times the model's 2,048-token context."""
    topics = [
        "The river town of Alderford built a new stone bridge in 1820 after floods.",
        "Its market sold wool, cheese and apples every Thursday for two centuries.",
        "A railway station opened in 1871 and brought visitors from the capital.",
        "The old mill became a museum of weaving in 1965, run by volunteers.",
        "Today the town is known for its apple festival held each October.",
    ]
    paragraphs = [f"Chapter {index}. " + " ".join(topics) * 5 for index in range(6)]
    return "\n\n".join(paragraphs)


async def test_summarize_a_text_longer_than_the_model_context(client: httpx.AsyncClient):
    text = long_report()
    assert len(text) > 4 * 2048  # more characters than the context holds tokens, four times over
    body = {
        "input": {"text": text},
        "config": {"configurable": {"temperature": 0, "max_tokens": 48}},
    }
    response = await client.post("/summarize/invoke", json=body)
    assert response.status_code == 200, response.text
    summary = response.json()["output"]
    assert summary.strip() and len(summary) < len(text) / 10


def chat(text: str, session_id: str) -> dict:
    return {
        "input": {"messages": [{"type": "human", "content": text}]},
        "config": {"configurable": {"session_id": session_id, **FAST}},
    }


async def test_chat_session_remembers_a_fact_across_requests(client: httpx.AsyncClient):
    await client.post("/chat/invoke", json=chat("The secret word is banana.", "fruit-1"))
    reply = await client.post("/chat/invoke", json=chat("What is the secret word?", "fruit-1"))
    assert "banana" in reply.json()["output"].lower()
    # The same question in a fresh session has nothing to remember.
    fresh = await client.post("/chat/invoke", json=chat("What is the secret word?", "fruit-2"))
    assert "banana" not in fresh.json()["output"].lower()


async def test_chat_session_survives_a_server_restart(tmp_path: Path):
    with platform_process(tmp_path) as running:
        async with running.client() as client:
            await client.post("/chat/invoke", json=chat("The secret word is banana.", "kept"))
    with platform_process(tmp_path) as running:
        async with running.client() as client:
            reply = await client.post("/chat/invoke", json=chat("What is the secret word?", "kept"))
            assert "banana" in reply.json()["output"].lower()


async def test_chat_reply_cut_by_disconnect_is_stored_interrupted(client: httpx.AsyncClient):
    body = chat("Write a long story about a dragon.", "cut-1")
    body["config"]["configurable"]["max_tokens"] = 300
    async with client.stream("POST", "/chat/stream", json=body) as response:
        received = 0
        async for event in aiter_events(response):
            received += event.event == "data"
            if received == 3:
                break
    await asyncio.sleep(0.5)
    stored = (await client.get("/chat/history", params={"session_id": "cut-1"})).json()
    human, ai = stored["messages"]
    assert human["data"]["content"] == "Write a long story about a dragon."
    assert ai["data"]["response_metadata"] == {"interrupted": True}
    assert ai["data"]["content"]
