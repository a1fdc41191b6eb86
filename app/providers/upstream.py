"""How to reach one deployment (an `Upstream`): its URL, headers, query, timeouts and proxy."""

from __future__ import annotations

import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from app.settings import PLAIN_OPENAI_PROVIDERS, Deployment, ProviderKind

OPENAI_BASE_URL = "https://api.openai.com/v1"

#: What the embedded models serve; a remote provider (openai, azure, openai-compatible) is
#: sent every endpoint, and refuses for itself what its model cannot do.
_EMBEDDED_ENDPOINTS = {
    "local": ("chat/completions", "completions"),
    "local-embed": ("embeddings",),
}


def serves(provider: ProviderKind, endpoint: str) -> bool:
    """Whether a deployment of `provider` is sent calls to `endpoint`."""
    return endpoint in _EMBEDDED_ENDPOINTS.get(provider, (endpoint,))


@dataclass(frozen=True)
class Upstream:
    """How to reach one deployment: where, with which headers, in which dialect."""

    deployment: Deployment
    base_url: str
    headers: Mapping[str, str]
    params: Mapping[str, str]
    timeout: aiohttp.ClientTimeout  # per step (a free connection, connecting, each read)
    proxy: str | None

    @classmethod
    def of(cls, deployment: Deployment, local_url: str | None) -> Upstream:
        key = deployment.api_key.get_secret_value() if deployment.api_key else None
        seconds = deployment.timeout  # no total: a stream may last longer than any one step
        timeout = aiohttp.ClientTimeout(
            total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
        )
        headers = {"Content-Type": "application/json"}
        if deployment.provider == "azure":
            endpoint = (deployment.azure_endpoint or "").rstrip("/")
            base = f"{endpoint}/openai/deployments/{deployment.model}"
            return cls(
                deployment,
                base,
                {**headers, "api-key": key} if key else headers,
                {"api-version": deployment.api_version or ""},
                timeout,
                proxy_for(base),
            )
        if deployment.provider == "local":
            base = f"{local_url}/v1"
        elif deployment.provider == "local-embed":
            base = "in-process"  # the dispatcher calls it directly
        else:
            base = deployment.base_url or OPENAI_BASE_URL
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return cls(deployment, base.rstrip("/"), headers, {}, timeout, proxy_for(base))

    @property
    def form_headers(self) -> dict[str, str]:
        """The headers of a multipart request: aiohttp sets its Content-Type (the boundary)."""
        return {name: value for name, value in self.headers.items() if name != "Content-Type"}

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        payload = {**body, "model": self.deployment.model or "local"}
        if self.deployment.provider in PLAIN_OPENAI_PROVIDERS:
            limit = payload.pop("max_completion_tokens", None)
            if limit is not None:
                payload["max_tokens"] = limit
        if self.deployment.provider == "local":
            _as_llama_cpp_format(payload)
        return payload


def _as_llama_cpp_format(payload: dict[str, Any]) -> None:
    """OpenAI's `json_schema` response format as llama.cpp's server takes it (`json_object`
    with the schema), which it enforces with a grammar: the output is valid for the schema."""
    given = payload.get("response_format")
    if isinstance(given, dict) and given.get("type") == "json_schema":
        schema = (given.get("json_schema") or {}).get("schema")
        translated: dict[str, Any] = {"type": "json_object"}
        if schema:
            translated["schema"] = schema
        payload["response_format"] = translated


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as the
    OpenAI SDK honours them. Read once: aiohttp's `trust_env` reads the environment and
    ~/.netrc again on every request, which cost a third of a /v1 request's CPU."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)
