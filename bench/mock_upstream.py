"""A fast OpenAI-compatible upstream for the benchmarks: a fixed reply, streamed or not.

Raw ASGI (no framework), so it costs as little as possible. A stream sends its role chunk,
waits `--first-token-ms` (every `--slow-every`th stream: `--slow-ms`), then sends `--chunks`
content chunks `--delay-ms` apart, a usage chunk and `[DONE]`.

    python -m bench.mock_upstream --port 9100 [--chunks 8] [--delay-ms 0]
        [--first-token-ms 0] [--slow-every 0 --slow-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

REPLY = "The quick brown fox jumps over the lazy dog again and again."
USAGE = {"prompt_tokens": 12, "completion_tokens": 12, "total_tokens": 24}
MODELS = json.dumps({"object": "list", "data": [{"id": "mock", "object": "model"}]}).encode()


def _completion() -> bytes:
    return json.dumps({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": int(time.time()),
        "model": "mock", "usage": USAGE,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": REPLY}}],
    }).encode()  # fmt: skip


def _chunk(delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": int(time.time()),
        "model": "mock", "choices": [] if usage else [
            {"index": 0, "delta": delta, "finish_reason": finish}
        ],
    }  # fmt: skip
    if usage:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


@dataclass(frozen=True)
class FirstToken:
    """When a stream's first content comes: after `seconds`, or every `slow_every`th stream
    after `slow_seconds` (a deployment slow some of the time)."""

    seconds: float = 0.0
    slow_every: int = 0
    slow_seconds: float = 0.0


class MockUpstream:
    def __init__(self, chunks: int, delay: float, first: FirstToken = FirstToken()) -> None:
        words = REPLY.split(" ")
        size = max(1, -(-len(words) // chunks))
        self.pieces = [" ".join(words[i : i + size]) + " " for i in range(0, len(words), size)]
        self.pieces += [""] * (chunks - len(self.pieces))
        self.delay = delay
        self.first = first
        self.streams = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"].endswith("/models"):
            await self._send(send, 200, MODELS, b"application/json")
            return
        stream = body and json.loads(body).get("stream")
        if not stream:
            await self._send(send, 200, _completion(), b"application/json")
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        await send({"type": "http.response.body", "body": _chunk({"role": "assistant",
                    "content": ""}), "more_body": True})  # fmt: skip
        self.streams += 1
        first = self.first
        slow = first.slow_every and self.streams % first.slow_every == 0
        wait = first.slow_seconds if slow else first.seconds
        if wait:
            await asyncio.sleep(wait)
        for piece in self.pieces:
            if self.delay:
                await asyncio.sleep(self.delay)
            await send({"type": "http.response.body", "body": _chunk({"content": piece}),
                        "more_body": True})  # fmt: skip
        tail = _chunk({}, "stop") + _chunk({}, usage=USAGE) + b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail})

    @staticmethod
    async def _send(send: Any, status: int, body: bytes, content_type: bytes) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--first-token-ms", type=float, default=0.0)
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--slow-ms", type=float, default=0.0)
    args = parser.parse_args()
    first = FirstToken(args.first_token_ms / 1000, args.slow_every, args.slow_ms / 1000)
    app = MockUpstream(args.chunks, args.delay_ms / 1000, first)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", backlog=4096)


if __name__ == "__main__":
    main()
