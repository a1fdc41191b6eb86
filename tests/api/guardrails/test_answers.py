"""Guardrails on answers, whole and streamed, on every dialect and a use case's stream: a
secret the model writes reaches the client redacted, or the answer ends in an honest error,
however its chunks split it."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.support import guardrails as g
from tests.support.sse import aiter_events

AWS = "AKIAIOSFODNN7EXAMPLE"
ANSWER = f"Use the key {AWS} and the card {g.CARD} today."
REDACTED = "Use the key [SECRET] and the card [CARD] today."
REDACTS = {"response": {"secret": "redact", "card": "redact"}}
REFUSES = {"response": {"secret": "block"}}


def split(text: str, count: int) -> list[str]:
    """`text` in `count` pieces, cut inside the key and the card."""
    cuts = [text.index(AWS) + 4, text.index(AWS) + 13, text.index(g.CARD) + 6,
            text.index(g.CARD) + 12][: count - 1]  # fmt: skip
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def contents(text: str) -> tuple[str, list[str]]:
    """A chat stream's text, and its data lines."""
    lines = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    words = "".join(
        choice["delta"].get("content") or ""
        for line in lines if line != "[DONE]" and "choices" in json.loads(line)
        for choice in json.loads(line)["choices"]
    )  # fmt: skip
    return words, lines


@pytest.mark.parametrize("pieces", [2, 3, 4, 5])
async def test_a_secret_split_across_chunks_reaches_the_client_redacted(platform, script, pieces):
    platform.tenant("redacts", guardrails=REDACTS)
    script.answer, script.pieces = ANSWER, split(ANSWER, pieces)
    assert len(script.pieces) == pieces and AWS not in script.pieces
    async with platform.client(platform.key("redacts")) as client:
        streamed = await client.post(g.CHAT, json=g.chat("Hi", stream=True))
    text, lines = contents(streamed.text)
    assert (text, lines[-1]) == (REDACTED, "[DONE]")
    assert AWS not in streamed.text


async def test_a_whole_answer_is_redacted_and_a_blocked_one_is_a_400_naming_where(platform, script):
    platform.tenant("redacts", guardrails=REDACTS)
    platform.tenant("refuses", guardrails=REFUSES)
    script.answer = ANSWER
    async with platform.client(platform.key("redacts")) as client:
        redacted = await client.post(g.CHAT, json=g.chat("Hi"))
    async with platform.client(platform.key("refuses")) as client:
        refused = await client.post(g.CHAT, json=g.chat("Hi"))
    assert redacted.json()["choices"][0]["message"]["content"] == REDACTED
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("guardrail_blocked", "choices[0].message.content")
    assert AWS not in refused.text


async def test_a_blocked_stream_ends_with_an_error_event_never_a_clean_end(platform, script):
    platform.tenant("refuses", guardrails=REFUSES)
    script.answer, script.pieces = ANSWER, split(ANSWER, 3)
    async with platform.client(platform.key("refuses")) as client:
        streamed = await client.post(g.CHAT, json=g.chat("Hi", stream=True))
    text, lines = contents(streamed.text)
    assert streamed.status_code == 200  # the stream had begun
    assert "[DONE]" not in lines
    assert json.loads(lines[-1])["error"]["code"] == "guardrail_blocked"
    assert AWS not in streamed.text and text == "Use the key "


async def test_streamed_tool_call_arguments_are_scanned_too(platform, script):
    platform.tenant("redacts", guardrails=REDACTS)
    arguments = json.dumps({"query": f"key {AWS}"})
    script.tool_arguments = arguments
    script.pieces = [arguments[:14], arguments[14:22], arguments[22:]]
    async with platform.client(platform.key("redacts")) as client:
        streamed = await client.post(g.CHAT, json=g.chat("Hi", stream=True))
        whole = await client.post(g.CHAT, json=g.chat("Hi"))
    called = "".join(
        call["function"].get("arguments") or ""
        for line in contents(streamed.text)[1] if line != "[DONE]"
        for choice in json.loads(line)["choices"]
        for call in choice["delta"].get("tool_calls") or []
    )  # fmt: skip
    assert json.loads(called) == {"query": "key [SECRET]"}
    answered = whole.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(answered) == {"query": "key [SECRET]"}


async def test_a_use_cases_stream_is_guarded_on_its_way_in_and_out(platform, script):
    platform.tenant("both", guardrails={**g.MASKS, **REDACTS})
    script.answer, script.pieces = ANSWER, split(ANSWER, 5)
    body = {"input": {"prompt": f"Mail {g.EMAIL} a greeting."}}
    client = platform.client(platform.key("both"))
    async with client, client.stream("POST", "/generate/stream", json=body) as response:
        events = [event async for event in aiter_events(response)]
    assert events[-1].event == "end"
    said = "".join(event.json() for event in events if event.event == "data")
    assert said == REDACTED
    assert g.EMAIL not in g.sent_texts(script.received)
    assert "[EMAIL_1]" in g.sent_texts(script.received)


async def test_the_messages_and_responses_dialects_are_guarded(platform, script):
    platform.tenant("both", guardrails={**g.MASKS, **REDACTS})
    script.answer, script.pieces = ANSWER, split(ANSWER, 4)
    messages = {"model": "open", "max_tokens": 50, "stream": True,
                "messages": [{"role": "user", "content": f"I am {g.EMAIL}"}]}  # fmt: skip
    async with platform.client(platform.key("both")) as client:
        streamed = await client.post("/v1/messages", json=messages)
        responded = await client.post("/v1/responses", json={
            "model": "open", "input": f"I am {g.EMAIL}",
        })  # fmt: skip
    said = "".join(
        json.loads(line[6:])["delta"].get("text", "")
        for line in streamed.text.splitlines()
        if line.startswith("data: ") and '"content_block_delta"' in line
    )  # fmt: skip
    assert said == REDACTED
    output = responded.json()["output"][0]["content"][0]["text"]
    assert output == REDACTED
    assert AWS not in streamed.text + responded.text
    assert g.EMAIL not in g.sent_texts(script.received)
