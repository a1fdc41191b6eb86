"""Calling an alias's deployments over HTTP in OpenAI's protocol, for /v1 and the chains.

`ModelRouter.send` tries the deployments in order, skipping those whose circuit is open. Each
is retried with exponential backoff (honouring `Retry-After`) on connect errors, timeouts,
429 and 5xx — all before any byte reaches the client; then the next deployment is tried.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from app.errors import (
    UPSTREAM_FAILURES,
    PlatformError,
    ProviderError,
    ServiceUnavailable,
    platform_error,
    upstream_status_error,
)
from app.providers.breaker import CircuitBreakers
from app.providers.http import HttpPool
from app.settings import PLAIN_OPENAI_PROVIDERS, Deployment, ModelSpec

OPENAI_BASE_URL = "https://api.openai.com/v1"
BACKOFF_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 4.0
_RETRYABLE_STATUS = {408, 409, 429}


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
        else:
            base = deployment.base_url or OPENAI_BASE_URL
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return cls(deployment, base.rstrip("/"), headers, {}, timeout, proxy_for(base))

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        payload = {**body, "model": self.deployment.model or "local"}
        if self.deployment.provider in PLAIN_OPENAI_PROVIDERS:
            limit = payload.pop("max_completion_tokens", None)
            if limit is not None:
                payload["max_tokens"] = limit
        return payload


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as the
    OpenAI SDK honours them. Read once: aiohttp's `trust_env` reads the environment and
    ~/.netrc again on every request, which cost a third of a /v1 request's CPU."""
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


@dataclass
class Opened:
    """An upstream response that answered 2xx (its body not read yet when streaming)."""

    response: aiohttp.ClientResponse
    upstream_seconds: float

    async def json(self) -> Any:
        return orjson.loads(await self.response.read())

    async def lines(self) -> AsyncIterator[str]:
        """A streamed body's lines; the response is closed when they end or the reader stops."""
        try:
            async for line in self.response.content:
                yield line.decode()
        finally:
            self.close()

    def close(self) -> None:
        """Done with the response: a body not read to its end drops the connection, which
        ends the upstream request (a client that left stops the model's work)."""
        self.response.close()


def _retry_delay(attempt: int, response: aiohttp.ClientResponse | None) -> float:
    given = response.headers.get("retry-after") if response is not None else None
    if given and given.replace(".", "", 1).isdigit():
        return min(float(given), BACKOFF_CAP_SECONDS)
    return min(BACKOFF_SECONDS * 2**attempt, BACKOFF_CAP_SECONDS)


class ModelRouter:
    def __init__(
        self,
        models: Mapping[str, ModelSpec],
        http: HttpPool,
        breakers: CircuitBreakers,
        local_url: str | None,
    ) -> None:
        self._upstreams = {
            alias: [Upstream.of(d, local_url) for d in spec.deployments]
            for alias, spec in models.items()
        }
        self._http = http
        self.breakers = breakers

    async def send(
        self, alias: str, endpoint: str, body: Mapping[str, Any], *, stream: bool
    ) -> Opened:
        last_error: BaseException | None = None
        skipped: list[str] = []
        for upstream in self._upstreams[alias]:
            name = upstream.deployment.name
            if not await self.breakers.allow(name):
                skipped.append(name)
                continue
            try:
                opened = await self._try(upstream, endpoint, body, stream)
            except _Failed as failure:
                await self.breakers.failed(name)
                last_error = failure.error
                continue
            except BaseException:
                await self.breakers.abandoned(name)
                raise
            await self.breakers.succeeded(name)
            return opened
        if last_error is not None:
            raise last_error
        wait = min([await self.breakers.retry_after(name) for name in skipped])
        raise ServiceUnavailable(
            f"Every deployment of model '{alias}' is failing; retry in {wait:.0f} s.",
            code="deployments_unavailable",
            headers={"Retry-After": str(max(1, round(wait)))},
        )

    async def probe(self, alias: str) -> str | None:
        """None when the alias's first deployment answers (its model list), else the problem."""
        upstream = self._upstreams[alias][0]
        url = f"{upstream.base_url}/models"
        if upstream.deployment.provider == "azure":
            return None  # an Azure deployment has no model list to ask
        try:
            async with self._http.session.get(
                url,
                headers=upstream.headers,
                timeout=aiohttp.ClientTimeout(total=3.0),
                proxy=upstream.proxy,
            ) as response:
                status = response.status
        except UPSTREAM_FAILURES:
            return f"The provider of model '{alias}' does not answer."
        if status in (401, 403):
            return f"The provider of model '{alias}' refuses the API key."
        return None

    async def _try(
        self, upstream: Upstream, endpoint: str, body: Mapping[str, Any], stream: bool
    ) -> Opened:
        deployment = upstream.deployment
        data = orjson.dumps(upstream.payload(body))
        url = f"{upstream.base_url}/{endpoint}"
        error: BaseException | None = None
        for attempt in range(deployment.max_retries + 1):
            response: aiohttp.ClientResponse | None = None
            started = time.perf_counter()
            try:
                response = await self._http.session.post(
                    url, data=data, headers=upstream.headers, params=upstream.params,
                    timeout=upstream.timeout, proxy=upstream.proxy, allow_redirects=False,
                )  # fmt: skip
                succeeded = 200 <= response.status < 300
                answer = b"" if succeeded and stream else await response.read()
            except BaseException as exc:  # a cancelled read too: its connection is dropped
                if response is not None:
                    response.close()
                if not isinstance(exc, UPSTREAM_FAILURES):
                    raise
                error = platform_error(exc)
            else:
                if succeeded:
                    return Opened(response, time.perf_counter() - started)
                error = upstream_status_error(response.status, response.headers, answer)
                if response.status < 500 and response.status not in _RETRYABLE_STATUS:
                    raise error  # a refusal of the request itself: the provider is up
            if attempt < deployment.max_retries:
                await asyncio.sleep(_retry_delay(attempt, response))
        raise _Failed(error or PlatformError("The model provider failed."))


async def stream_chunks(lines: AsyncIterator[str]) -> AsyncIterator[dict[str, Any]]:
    """The JSON chunks of an OpenAI-style event stream, up to `[DONE]`. An error chunk, or
    one that is not JSON, raises a ProviderError: the answer is incomplete."""
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(
                "The model provider sent a malformed stream.", code="provider_failed"
            ) from exc
        if chunk.get("error"):
            detail = chunk["error"]
            message = detail.get("message") if isinstance(detail, dict) else str(detail)
            raise ProviderError(
                f"The model provider failed mid-answer: {message}.", code="provider_failed"
            )
        yield chunk


class _Failed(Exception):
    def __init__(self, error: BaseException) -> None:
        self.error = error
