"""Each use case's chain, served over the LangServe routes, with an EchoChat model.

The echo model replies with the prompt it received, so these tests read the rendered prompt,
the sampling parameters and the history straight from the response a client gets.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.sse import read_events


async def invoke(client: httpx.AsyncClient, route: str, payload: dict, **configurable) -> str:
    body = {"input": payload, "config": {"configurable": configurable}}
    response = await client.post(f"/{route}/invoke", json=body)
    assert response.status_code == 200, response.text
    return response.json()["output"]


async def test_generate_renders_default_system_and_word_limit(echo_client: httpx.AsyncClient):
    reply = await invoke(echo_client, "generate", {"prompt": "Name a colour.", "max_words": 3})
    assert "system: You are a helpful assistant. Answer in at most 3 words." in reply
    assert "human: Name a colour." in reply


async def test_generate_uses_client_system_message(echo_client: httpx.AsyncClient):
    reply = await invoke(echo_client, "generate", {"prompt": "Hi", "system": "Be a pirate."})
    assert "system: Be a pirate." in reply
    assert "at most" not in reply


async def test_prompt_file_defaults_apply_until_the_client_overrides_them(echo_client):
    default = await invoke(echo_client, "generate", {"prompt": "Hi"})
    assert default.startswith("[local temperature=0.7 max_tokens=256]")
    chosen = await invoke(echo_client, "generate", {"prompt": "Hi"}, temperature=0, max_tokens=4)
    # EchoChat cuts its reply to max_tokens words, as a real model would: header + 3 words.
    assert chosen == "[local temperature=0.0 max_tokens=4] system: You are"


async def test_model_alias_is_chosen_per_request(echo_client: httpx.AsyncClient):
    reply = await invoke(echo_client, "complete", {"text": "Once"}, model="other")
    assert reply.startswith("[other ")


async def test_complete_sends_the_text_to_continue(echo_client: httpx.AsyncClient):
    reply = await invoke(echo_client, "complete", {"text": "Once upon a time"})
    assert "Continue the text" in reply
    assert "human: Once upon a time" in reply


async def test_summarize_short_text_in_one_call_with_style(echo_client: httpx.AsyncClient):
    reply = await invoke(echo_client, "summarize", {"text": "Cats sleep.", "style": "bullets"})
    assert "bullet points" in reply
    assert "Summarize this text:\n\nCats sleep." in reply


async def test_summarize_long_text_condenses_parts_before_the_final_summary(
    echo_client: httpx.AsyncClient,
):
    paragraph = "The quick brown fox jumps over the lazy dog near the river bank. " * 20
    text = "\n\n".join(f"Part {index}. {paragraph}" for index in range(8))  # ~10,000 chars
    reply = await invoke(echo_client, "summarize", {"text": text}, max_tokens=60)
    # The final call sees condensed parts (echo replies of the map step), not the raw text.
    assert "Summarize this text:" in reply
    assert "You condense one part of a longer document" in reply
    assert len(reply) < len(text)


async def test_summarize_stream_events_report_each_condensed_part(echo_client):
    """Map-reduce progress as LangChain custom events, as RemoteRunnable's astream_events
    reads them from /stream_events: `part` counts up to `of` in each round."""
    paragraph = "The quick brown fox jumps over the lazy dog near the river bank. " * 20
    text = "\n\n".join(f"Part {index}. {paragraph}" for index in range(8))
    body = {"input": {"text": text}, "config": {"configurable": {"max_tokens": 60}}}
    events = await read_events(echo_client, "/summarize/stream_events", body)
    progress = [
        event.json()["data"] for event in events
        if event.event == "data" and event.json()["event"] == "on_custom_event"
        and event.json()["name"] == "progress"
    ]  # fmt: skip
    first_round = [step for step in progress if step["round"] == 1]
    assert len(first_round) >= 4
    assert [step["part"] for step in first_round] == list(range(1, len(first_round) + 1))
    assert {step["of"] for step in first_round} == {len(first_round)}
    assert events[-1].event == "end"


async def test_stream_sends_several_data_events_then_end(echo_client: httpx.AsyncClient):
    events = await read_events(echo_client, "/generate/stream", {"input": {"prompt": "Hi"}})
    kinds = [event.event for event in events]
    assert kinds[0] == "metadata"
    assert kinds.count("data") > 3
    assert kinds[-1] == "end"
    assert "human: Hi" in "".join(event.json() for event in events if event.event == "data")


async def test_batch_answers_each_input(echo_client: httpx.AsyncClient):
    body = {"inputs": [{"text": "one"}, {"text": "two"}]}
    response = await echo_client.post("/complete/batch", json=body)
    assert response.status_code == 200
    first, second = response.json()["output"]
    assert "human: one" in first and "human: two" in second


@pytest.mark.parametrize("route", ["generate", "complete", "summarize", "chat"])
async def test_every_use_case_has_schemas_and_a_playground(echo_client, route):
    for name in ("input_schema", "output_schema", "config_schema"):
        assert (await echo_client.get(f"/{route}/{name}")).status_code == 200
    playground = await echo_client.get(f"/{route}/playground/index.html")
    assert playground.status_code == 200
    assert "<html" in playground.text.lower()


async def test_config_schema_advertises_the_allowed_models_and_limits(echo_client):
    schema = (await echo_client.get("/chat/config_schema")).json()
    fields = schema["$defs"]["Configurable"]["properties"]
    assert set(fields) == {"model", "temperature", "max_tokens", "session_id", "prompt_version"}
    assert fields["prompt_version"]["enum"] == [1]
    assert fields["model"]["enum"] == ["local", "other"]
