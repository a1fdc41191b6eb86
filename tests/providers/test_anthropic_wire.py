"""Translation between chat completions and Anthropic's Messages, both ways, loses nothing
both sides express: a conversation sent to a Claude deployment (providers/anthropic_wire.py)
and read back as /v1/messages reads a request (api/anthropic/request.py) is the one it was;
an answer, whole or streamed, comes back to the Messages dialect as Claude gave it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import orjson
import pytest

from app.api.anthropic.output import MessageRelay, whole_message
from app.api.anthropic.request import MessagesRequest
from app.errors import ProviderRefused
from app.providers.anthropic_wire import chat_chunk_lines, chat_completion, messages_request

CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]},
    {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "toolu_1", "type": "function",
         "function": {"name": "lookup", "arguments": json.dumps({"q": "kite"})}},
    ]},
    {"role": "tool", "tool_call_id": "toolu_1", "content": "A red kite."},
    {"role": "user", "content": "Thanks."},
]  # fmt: skip
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Look it up.",
                                           "parameters": {"type": "object"}}}]  # fmt: skip


def test_a_chat_conversation_survives_the_trip_to_messages_and_back():
    body = {"messages": CONVERSATION, "max_tokens": 64, "stop": ["\n"], "temperature": 0.5,
            "top_p": 0.9, "user": "u-1", "tools": TOOLS,
            "tool_choice": {"type": "function", "function": {"name": "lookup"}},
            "parallel_tool_calls": False}  # fmt: skip
    sent = messages_request(body, "claude-x")
    assert sent["model"] == "claude-x" and sent["system"] == "Be brief."
    back = MessagesRequest.model_validate(sent)
    assert back.chat_messages() == CONVERSATION
    options = back.chat_options()
    assert options["tools"] == TOOLS and options["tool_choice"] == body["tool_choice"]
    assert (options["stop"], options["temperature"], options["top_p"], options["user"]) == (
        ["\n"], 0.5, 0.9, "u-1",
    )  # fmt: skip
    assert options["parallel_tool_calls"] is False


def test_a_json_schema_format_is_claudes_structured_output_and_back():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    given = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    sent = messages_request({"messages": CONVERSATION[-1:], "response_format": given}, "c")
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert sent["max_tokens"] == 4096, "Messages requires one; chat completions does not"
    back = MessagesRequest.model_validate(sent).chat_options()["response_format"]
    assert back["json_schema"]["schema"] == schema


def test_arguments_that_are_not_json_are_the_callers_to_fix():
    call = {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    broken = [{"role": "assistant", "tool_calls": [call]}]
    with pytest.raises(ProviderRefused) as refused:
        messages_request({"messages": broken}, "c")
    assert refused.value.code == "invalid_tool_arguments"


CLAUDE_ANSWER = {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
    "content": [{"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"q": "x"}}],
    "stop_reason": "tool_use", "stop_sequence": None,
    "usage": {"input_tokens": 7, "output_tokens": 3},
}  # fmt: skip


def test_a_whole_answer_comes_back_to_the_messages_dialect_as_claude_gave_it():
    chat = chat_completion(CLAUDE_ANSWER)
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    assert chat["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    usage = {"input_tokens": 7, "output_tokens": 3}
    again = whole_message("msg_1", "claude-x", chat, usage)
    for key in ("content", "stop_reason", "model", "role", "type"):
        assert again[key] == CLAUDE_ANSWER[key], key


def _sse(kind: str, **fields: object) -> list[bytes]:
    return [f"event: {kind}\n".encode(), b"data: " + orjson.dumps({"type": kind, **fields}),
            b"\n"]  # fmt: skip


CLAUDE_STREAM = [
    *_sse("message_start", message={**CLAUDE_ANSWER, "content": [], "stop_reason": None,
                                    "usage": {"input_tokens": 7, "output_tokens": 1}}),
    *_sse("ping"),
    *_sse("content_block_start", index=0, content_block={"type": "text", "text": ""}),
    *_sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "Look"}),
    *_sse("content_block_delta", index=0, delta={"type": "text_delta", "text": "ing."}),
    *_sse("content_block_stop", index=0),
    *_sse("content_block_start", index=1, content_block={
        "type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {}}),
    *_sse("content_block_delta", index=1, delta={"type": "input_json_delta",
                                                  "partial_json": '{"q": '}),
    *_sse("content_block_delta", index=1, delta={"type": "input_json_delta",
                                                  "partial_json": '"x"}'}),
    *_sse("content_block_stop", index=1),
    *_sse("message_delta", delta={"stop_reason": "tool_use", "stop_sequence": None},
          usage={"output_tokens": 3}),
    *_sse("message_stop"),
]  # fmt: skip


async def _lines(lines: list[bytes]) -> AsyncIterator[bytes]:
    for line in lines:
        yield line


async def test_a_stream_comes_back_to_the_messages_dialect_event_for_event():
    translated = [line async for line in chat_chunk_lines(_lines(CLAUDE_STREAM))]
    assert translated[-1] == b"data: [DONE]\n"
    chunks = [orjson.loads(line[5:]) for line in translated[:-1]]
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3,
                                   "total_tokens": 10}  # fmt: skip
    relay = MessageRelay("msg_1", "claude-x")
    frames = [frame for chunk in chunks for frame in relay.frames(chunk)]
    frames += await relay.closing(7, 3)
    ours = [orjson.loads(frame.split("data: ", 1)[1]) for frame in frames]
    theirs = [orjson.loads(line[6:]) for line in CLAUDE_STREAM if line.startswith(b"data: ")]
    assert [event["type"] for event in ours] == [event["type"] for event in theirs]
    deltas = [event.get("delta") for event in ours if event["type"] == "content_block_delta"]
    assert deltas == [e.get("delta") for e in theirs if e["type"] == "content_block_delta"]


async def test_a_stream_claude_cuts_ends_without_done():
    cut = CLAUDE_STREAM[: CLAUDE_STREAM.index(b"event: content_block_stop\n")]
    translated = [line async for line in chat_chunk_lines(_lines(cut))]
    assert b"data: [DONE]\n" not in translated
