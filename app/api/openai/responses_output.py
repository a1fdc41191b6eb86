"""What /v1/responses answers, in OpenAI's shapes: the response object, its output items, and
its typed stream events, numbered by `sequence_number`.

An answer comes from chat completions: its text is a `message` item with one `output_text`
part, each tool call a `function_call` item. An answer cut at its token bound is `incomplete`
(`max_output_tokens`); a stream cut short by a failure ends with `response.failed`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from app.api.hosted_tools import HostedCall, Listing
from app.errors import PlatformError

Status = Literal["queued", "in_progress", "completed", "incomplete", "failed", "cancelled"]


def item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_of(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def message_item(text: str, status: str = "completed", id_: str | None = None) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": id_ or item_id("msg"), "type": "message", "role": "assistant",
            "status": status, "content": content if status == "completed" else []}  # fmt: skip


def function_call_item(
    call_id: str, name: str, arguments: str, status: str = "completed", id_: str | None = None
) -> dict[str, Any]:
    return {"id": id_ or item_id("fc"), "type": "function_call", "call_id": call_id,
            "name": name, "arguments": arguments, "status": status}  # fmt: skip


def listing_item(listing: Listing) -> dict[str, Any]:
    """A hosted tool server's tools, as a response lists them."""
    tools = [{"name": tool.name, "description": tool.description,
              "input_schema": tool.inputSchema, "annotations": None}
             for tool in listing.tools]  # fmt: skip
    return {"id": item_id("mcpl"), "type": "mcp_list_tools", "server_label": listing.label,
            "tools": tools, "error": None}  # fmt: skip


def hosted_item(call: HostedCall) -> dict[str, Any]:
    """A hosted call as a response shows it: in progress until it has its answer, then
    completed with its output, or failed with its error (the tool's, or the platform's)."""
    answer = call.answer
    item = {"id": call.id, "type": "mcp_call", "server_label": call.label, "name": call.tool,
            "arguments": call.arguments, "output": None, "error": None,
            "status": "in_progress"}  # fmt: skip
    if answer is None:
        return item
    if answer.error is not None:
        error = {"type": "http_error", "code": answer.error.status_code,
                 "message": answer.error.message}  # fmt: skip
        return {**item, "error": error, "status": "failed"}
    if answer.failed:
        error = {"type": "mcp_tool_execution_error", "content": [
            {"type": "text", "text": answer.text}]}  # fmt: skip
        return {**item, "error": error, "status": "failed"}
    return {**item, "output": answer.text, "status": "completed"}


def done_items(done: list[str | HostedCall]) -> list[dict[str, Any]]:
    """What a response's earlier rounds said and called, as its output items."""
    return [message_item(one) if isinstance(one, str) else hosted_item(one) for one in done]


def output_of(upstream: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """A chat completion's answer as output items, and whether it was cut at its bound."""
    choices = upstream.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    items = []
    if message.get("content"):
        items.append(message_item(str(message["content"])))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        items.append(function_call_item(call.get("id") or item_id("call"),
                                        function.get("name") or "",
                                        function.get("arguments") or ""))  # fmt: skip
    if not items:
        items.append(message_item(""))
    return items, choice.get("finish_reason") == "length"


@dataclass
class ResponseHead:
    """What a response says of its request; the same on every event of its stream."""

    id: str
    model: str
    request: dict[str, Any]  # instructions, tools, text, metadata, ... as the client gave them
    created_at: int = field(default_factory=lambda: int(time.time()))

    def body(
        self, status: Status, output: list[dict[str, Any]], usage: dict[str, Any] | None = None,
        error: PlatformError | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        return {
            "id": self.id, "object": "response", "created_at": self.created_at,
            "status": status, "error": error_of(error),
            "incomplete_details": incomplete, "model": self.model, "output": output,
            "usage": usage, **self.request,
        }  # fmt: skip


def error_of(error: PlatformError | None) -> dict[str, str] | None:
    """A failure as a response's `error` names it (OpenAI's codes for a response)."""
    if error is None:
        return None
    if error.status_code == 429:
        code = "rate_limit_exceeded"
    elif error.status_code < 500:
        code = "invalid_prompt"
    else:
        code = "server_error"
    return {"code": code, "message": error.message}


class ResponseEvents:
    """A chat completion's chunks as the Responses API's typed events (a `Relay`'s frames)."""

    def __init__(self, head: ResponseHead, listed: list[dict[str, Any]]) -> None:
        self.head = head
        self._listed = listed  # the hosted tool servers' tools, listed first
        self.output: list[dict[str, Any]] = []  # items done
        self._open: dict[str, Any] | None = None  # the item being written
        self._tool_items: dict[int, dict[str, Any]] = {}  # by the chunk's tool call index
        self._sequence = 0
        self._began = False
        self.cut = False  # the answer stopped at its token bound

    def _event(self, type_: str, **fields: Any) -> str:
        data = {"type": type_, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return f"event: {type_}\ndata: {orjson.dumps(data).decode()}\n\n"

    def _beginning(self) -> list[str]:
        if self._began:
            return []
        self._began = True
        body = self.head.body("in_progress", [])
        frames = [self._event("response.created", response=body),
                  self._event("response.in_progress", response=body)]  # fmt: skip
        for item in self._listed:
            at = {"item_id": item["id"], "output_index": len(self.output)}
            frames += [self._added(item), self._event("response.mcp_list_tools.in_progress", **at),
                       self._event("response.mcp_list_tools.completed", **at),
                       self._event("response.output_item.done", output_index=len(self.output),
                                   item=item)]  # fmt: skip
            self.output.append(item)
        return frames

    def calling(self, call: HostedCall) -> list[str]:
        """The frames of a hosted call about to be made (its arguments are whole by then)."""
        frames = [*self._beginning(), *self._closed()]
        at = {"item_id": call.id, "output_index": len(self.output)}
        return [*frames, self._added(hosted_item(call)),
                self._event("response.mcp_call.in_progress", **at),
                self._event("response.mcp_call_arguments.delta", **at, delta=call.arguments),
                self._event("response.mcp_call_arguments.done", **at,
                            arguments=call.arguments)]  # fmt: skip

    def called(self, call: HostedCall) -> list[str]:
        """The frames of a hosted call made: completed, or failed."""
        item = hosted_item(call)
        at = {"item_id": call.id, "output_index": len(self.output)}
        ended = "completed" if item["status"] == "completed" else "failed"
        frames = [self._event(f"response.mcp_call.{ended}", **at),
                  self._event("response.output_item.done", output_index=len(self.output),
                              item=item)]  # fmt: skip
        self.output.append(item)
        return frames

    def frames(self, chunk: dict[str, Any]) -> list[str]:
        frames: list[str] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if choice.get("finish_reason") == "length":
                self.cut = True
            delta = choice.get("delta") or {}
            if not (delta.get("content") or delta.get("tool_calls")):
                continue
            frames += self._beginning()  # numbered first
            if delta.get("content"):
                frames += self._text(str(delta["content"]))
            for call in delta.get("tool_calls") or ():
                frames += self._tool_call(call)
        return frames

    def _text(self, text: str) -> list[str]:
        frames = []
        if self._open is None or self._open["type"] != "message":
            frames += self._closed()
            self._open = message_item("", "in_progress")
            self._open["text"] = ""
            frames.append(self._added(self._open))
            part = {"type": "output_text", "text": "", "annotations": []}
            frames.append(self._event("response.content_part.added", **self._at(), part=part))
        self._open["text"] += text
        frames.append(self._event("response.output_text.delta", **self._at(), delta=text,
                                  logprobs=[]))  # fmt: skip
        return frames

    def _tool_call(self, call: dict[str, Any]) -> list[str]:
        frames = []
        index = call.get("index", 0)
        function = call.get("function") or {}
        item = self._tool_items.get(index)
        if item is None or item is not self._open:
            frames += self._closed()
            item = function_call_item(call.get("id") or item_id("call"),
                                      function.get("name") or "", "", "in_progress")  # fmt: skip
            self._tool_items[index] = self._open = item
            frames.append(self._added(item))
        arguments = function.get("arguments") or ""
        if arguments:
            item["arguments"] += arguments
            frames.append(self._event("response.function_call_arguments.delta",
                                      item_id=item["id"], output_index=len(self.output),
                                      delta=arguments))  # fmt: skip
        return frames

    def _at(self) -> dict[str, Any]:
        assert self._open is not None
        return {"item_id": self._open["id"], "output_index": len(self.output), "content_index": 0}

    def _added(self, item: dict[str, Any]) -> str:
        shown = {key: value for key, value in item.items() if key != "text"}
        return self._event("response.output_item.added", output_index=len(self.output),
                           item=shown)  # fmt: skip

    def _closed(self) -> list[str]:
        """The events that finish the item being written."""
        item, self._open = self._open, None
        if item is None:
            return []
        if item["type"] == "message":
            text = item.pop("text")
            done = message_item(text, id_=item["id"])
            at = {"item_id": item["id"], "output_index": len(self.output), "content_index": 0}
            frames = [self._event("response.output_text.done", **at, text=text, logprobs=[]),
                      self._event("response.content_part.done", **at,
                                  part=done["content"][0])]  # fmt: skip
        else:
            done = {**item, "status": "completed"}
            frames = [self._event("response.function_call_arguments.done", item_id=item["id"],
                                  output_index=len(self.output), name=item["name"],
                                  arguments=item["arguments"])]  # fmt: skip
        frames.append(self._event("response.output_item.done", output_index=len(self.output),
                                  item=done))  # fmt: skip
        self.output.append(done)
        return frames

    def completed(self, usage: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The whole response, and the frames that end its stream."""
        frames = [*self._beginning(), *self._closed()]
        status: Status = "incomplete" if self.cut else "completed"
        body = self.head.body(status, self.output, usage)
        return body, [*frames, self._event(f"response.{status}", response=body)]

    def failed(
        self, error: PlatformError | None, status: Status = "failed"
    ) -> tuple[dict[str, Any], list[str]]:
        """The response as it stood when it failed (or was cancelled: the Responses API has no
        event of its own for that, and a failure's is what tells a client the answer is not
        whole), and the frames that end its stream."""
        frames = [*self._beginning(), *self._closed()]
        body = self.head.body(status, self.output, None, error)
        return body, [*frames, self._event("response.failed", response=body)]
