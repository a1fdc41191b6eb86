"""The floor under /v1: FastAPI on uvicorn passing the body to the upstream with aiohttp and
the answer back, a stream chunk by chunk as it comes, and nothing else (no auth, limits,
ledger, logs or metrics).

    BENCH_UPSTREAM=http://127.0.0.1:9100/v1 uvicorn bench.bare_forwarder:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

UPSTREAM = os.environ["BENCH_UPSTREAM"]
JSON = {"Content-Type": "application/json"}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app.state.session = session
        yield


app = FastAPI(title="bare forwarder", lifespan=lifespan)


@app.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    session: aiohttp.ClientSession = request.app.state.session
    answer = await session.post(
        f"{UPSTREAM}/chat/completions", data=await request.body(), headers=JSON
    )
    if answer.content_type != "text/event-stream":
        async with answer:
            return Response(await answer.read(), answer.status, media_type="application/json")

    async def relayed() -> AsyncIterator[bytes]:
        async with answer:
            async for chunk in answer.content.iter_any():
                yield chunk

    return StreamingResponse(relayed(), answer.status, media_type="text/event-stream")
