"""Build the chat client of each model alias from the settings, once, at startup.

An alias with several deployments becomes the first one with the others as fallbacks; each
client retries (with backoff) connect errors, timeouts, 429 and 5xx before it answers, and a
deployment whose circuit is open is skipped.
"""

from __future__ import annotations

from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from langchain_openai.chat_models.base import BaseChatOpenAI

from app.providers.breaker import CircuitBreakers
from app.providers.guard import GuardedModel
from app.settings import PLAIN_OPENAI_PROVIDERS, Deployment, ModelSpec

#: A model alias's chat model: one client, or the first with fallbacks.
ChatRunnable = Runnable[Any, BaseMessage]


def build_alias_model(
    spec: ModelSpec,
    breakers: CircuitBreakers,
    http: httpx.AsyncClient,
    *,
    local_base_url: str | None = None,
) -> ChatRunnable:
    first, *others = [
        GuardedModel(
            chat=build_chat_model(d, http, local_base_url=local_base_url),
            deployment=d.name,
            breakers=breakers,
        )
        for d in spec.deployments
    ]
    return first.with_fallbacks(others)


def build_chat_model(
    spec: Deployment, http: httpx.AsyncClient, *, local_base_url: str | None = None
) -> BaseChatModel:
    api_key = spec.api_key.get_secret_value() if spec.api_key else None
    common = {
        "timeout": spec.timeout,
        "max_retries": spec.max_retries,
        "stream_usage": True,
        "http_async_client": http,  # the platform's own pool, not a process-wide one
    }
    if spec.provider == "azure":
        return AzureChatOpenAI(
            azure_deployment=spec.model,
            azure_endpoint=spec.azure_endpoint,
            api_version=spec.api_version,
            api_key=api_key,
            **common,
        )
    if spec.provider == "openai":
        return ChatOpenAI(model=spec.model, base_url=spec.base_url, api_key=api_key, **common)
    base_url = local_base_url if spec.provider == "local" else spec.base_url
    assert spec.provider in PLAIN_OPENAI_PROVIDERS and base_url
    # ChatOpenAI would rename max_tokens to max_completion_tokens, which these servers ignore;
    # the base client sends it as is.
    return BaseChatOpenAI(
        model=spec.model or "local",
        base_url=f"{base_url.rstrip('/')}/v1" if spec.provider == "local" else base_url,
        api_key=api_key or "not-needed",
        **common,
    )
