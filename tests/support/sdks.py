"""The official SDKs, calling an app in process as their users call the platform."""

from __future__ import annotations

import anthropic
import httpx
import httpx2
import openai
from fastapi import FastAPI


def openai_over(client: httpx.AsyncClient) -> openai.AsyncOpenAI:
    """The openai SDK over `client` (an in-process client with its key), without retries."""
    key = client.headers["Authorization"].removeprefix("Bearer ")
    return openai.AsyncOpenAI(base_url="http://platform/v1", api_key=key, http_client=client,
                              max_retries=0)  # fmt: skip


def anthropic_over(app: FastAPI, key: str) -> anthropic.AsyncAnthropic:
    """The anthropic SDK as its users configure it (the key in `x-api-key`), over its own HTTP
    client (httpx2) calling `app` in process, without retries."""
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://platform")
    return anthropic.AsyncAnthropic(base_url="http://platform", api_key=key, http_client=http,
                                    max_retries=0)  # fmt: skip
