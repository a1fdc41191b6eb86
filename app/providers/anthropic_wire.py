"""Chat completions to and from Anthropic's Messages API, for a deployment of the `anthropic`
provider kind: the request as Messages takes it, and its answer, whole or streamed, as chat
completions' answer and chunks, with Anthropic's exact usage.

What both sides express survives the trip: system messages become `system`, tool calls
`tool_use` blocks (their arguments parsed), tool messages `tool_result` blocks in a user turn,
image parts `image` blocks, `stop` `stop_sequences`, `tool_choice` and `parallel_tool_calls`
Anthropic's `tool_choice`, a `json_schema` response format `output_config.format`. Anthropic's
stop reasons map back to finish reasons, its blocks to a message's content and tool calls.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from app.errors import ProviderRefused
from app.providers.calls import message_text
from app.providers.failures import malformed

#: Anthropic's stop reason -> chat completions' finish reason
FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
                  "tool_use": "tool_calls", "refusal": "content_filter",
                  "pause_turn": "stop"}  # fmt: skip
DEFAULT_MAX_TOKENS = 4096  # Messages requires max_tokens; chat completions does not


def messages_request(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A chat completions request as Anthropic's Messages API takes it."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []
    for message in body.get("messages") or ():
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(message_text(message.get("content")))
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id", ""),
                     "content": message_text(message.get("content"))}  # fmt: skip
            _append(messages, "user", [block])
        elif role == "assistant":
            _append(messages, "assistant", _assistant_blocks(message))
        else:
            _append(messages, "user", _user_blocks(message.get("content")))
    request: dict[str, Any] = {
        "model": model, "messages": messages,
        "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens")
        or DEFAULT_MAX_TOKENS,
    }  # fmt: skip
    if system:
        request["system"] = "\n\n".join(system)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            request[key] = body[key]
    if body.get("stream"):
        request["stream"] = True
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("user"):
        request["metadata"] = {"user_id": body["user"]}
    request |= _tools(body)
    given = body.get("response_format")
    if isinstance(given, dict) and given.get("type") == "json_schema":
        schema = (given.get("json_schema") or {}).get("schema") or {"type": "object"}
        request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    return request


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Anthropic alternates turns: consecutive blocks of one role are one turn."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return [{"type": "text", "text": message_text(content)}]
    blocks = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "image_url":
            blocks.append({"type": "image", "source": _image_source(part.get("image_url"))})
        else:
            blocks.append({"type": "text", "text": str(part.get("text", ""))})
    return blocks


def _image_source(image_url: Any) -> dict[str, Any]:
    url = image_url.get("url", "") if isinstance(image_url, dict) else str(image_url or "")
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _assistant_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    text = message_text(message.get("content"))
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id", ""),
                       "name": function.get("name", ""),
                       "input": _arguments(function.get("arguments"))})  # fmt: skip
    return blocks


def _arguments(arguments: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except json.JSONDecodeError:
        raise ProviderRefused(
            "A tool call's arguments are not JSON, which Anthropic's models need; send them "
            "as a JSON object.", status_code=400, param="messages", code="invalid_tool_arguments",
        ) from None  # fmt: skip
    return parsed if isinstance(parsed, dict) else {"arguments": parsed}


def _tools(body: Mapping[str, Any]) -> dict[str, Any]:
    tools = [tool.get("function") or {} for tool in body.get("tools") or ()]
    if not tools:
        return {}
    choice = body.get("tool_choice")
    if choice == "none":
        return {}
    request: dict[str, Any] = {"tools": [
        {"name": tool.get("name", ""), "description": tool.get("description") or "",
         "input_schema": tool.get("parameters") or {"type": "object"}}
        for tool in tools
    ]}  # fmt: skip
    theirs: dict[str, Any] = {"type": "auto"}
    if choice == "required":
        theirs = {"type": "any"}
    elif isinstance(choice, dict):
        theirs = {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
    if body.get("parallel_tool_calls") is False:
        theirs["disable_parallel_tool_use"] = True
    request["tool_choice"] = theirs
    return request


def chat_completion(message: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic's message as a chat completion, its usage in chat completions' names."""
    text = "".join(b.get("text", "") for b in message.get("content") or ()
                   if b.get("type") == "text")  # fmt: skip
    calls = [
        {"id": block.get("id", ""), "type": "function",
         "function": {"name": block.get("name", ""),
                      "arguments": json.dumps(block.get("input") or {})}}
        for block in message.get("content") or ()
        if block.get("type") == "tool_use"
    ]  # fmt: skip
    reply: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        reply["tool_calls"] = calls
    finish = FINISH_REASONS.get(message.get("stop_reason") or "end_turn", "stop")
    usage = message.get("usage") or {}
    return {
        "id": message.get("id"), "object": "chat.completion", "model": message.get("model"),
        "choices": [{"index": 0, "message": reply, "finish_reason": finish}],
        "usage": _usage(usage.get("input_tokens", 0), usage.get("output_tokens", 0)),
    }  # fmt: skip


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}  # fmt: skip


def _line(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n"


async def chat_chunk_lines(lines: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Anthropic's event stream as chat completions' event stream (`data:` lines, then
    `[DONE]` at `message_stop`; an `error` event as an error chunk). A stream that ends
    without `message_stop` ends without `[DONE]`: the reader knows it is incomplete."""
    input_tokens = 0
    tools: dict[int, int] = {}  # a content block's index -> its tool call's index
    async for line in lines:
        if not line.startswith(b"data:"):
            continue
        try:
            event = orjson.loads(line[5:].strip() or b"{}")
        except orjson.JSONDecodeError:
            raise malformed("a stream event that is not JSON") from None
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "message_start":
            usage = (event.get("message") or {}).get("usage") or {}
            input_tokens = usage.get("input_tokens", 0)
            yield _line(_chunk({"role": "assistant", "content": ""}))
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") == "tool_use":
                tools[event.get("index", 0)] = index = len(tools)
                call = {"index": index, "id": block.get("id", ""), "type": "function",
                        "function": {"name": block.get("name", ""), "arguments": ""}}  # fmt: skip
                yield _line(_chunk({"tool_calls": [call]}))
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield _line(_chunk({"content": delta["text"]}))
            elif delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                call = {"index": tools.get(event.get("index", 0), 0),
                        "function": {"arguments": delta["partial_json"]}}  # fmt: skip
                yield _line(_chunk({"tool_calls": [call]}))
        elif kind == "message_delta":
            reason = (event.get("delta") or {}).get("stop_reason") or "end_turn"
            usage = event.get("usage") or {}
            finished = _chunk({}, FINISH_REASONS.get(reason, "stop"))
            output_tokens = usage.get("output_tokens", 0)
            finished["usage"] = _usage(usage.get("input_tokens") or input_tokens, output_tokens)
            yield _line(finished)
        elif kind == "message_stop":
            yield b"data: [DONE]\n"
            return
        elif kind == "error":
            yield _line({"error": event.get("error") or {"message": "an error event"}})
            return


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
