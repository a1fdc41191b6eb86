"""One client per provider kind, behind one protocol: how to reach a deployment and send it one
attempt. `client_for` is the registry, and the only code that names the kinds.

    DeploymentClient        its deployment, the endpoints it serves, the body it takes
    ├── ProviderClient      a deployment over HTTP, answering in chat completions' protocol
    │                       (OpenAI's as it comes; another provider's translated)
    │   ├── OpenAIClient        api.openai.com, or the base_url given
    │   ├── CompatibleClient    any OpenAI-compatible server (max_completion_tokens as max_tokens)
    │   │   └── LlamaCppClient  the embedded llama.cpp server: chat and completions only, its
    │   │                       tokens counted exactly, prompts past its context refused first
    │   ├── AzureClient         Azure OpenAI: the deployment in the URL, `api-key`, `api-version`
    │   └── AnthropicClient     Anthropic's Messages API, translated (anthropic_wire.py)
    └── EmbedderClient      the embedded embedding model, in this process, no HTTP at all
                            (embedder_client.py)

What an attempt's failures mean is decided once, in failures.py; answers are read by
answers.py. The retries, the next deployment and hedging are the failover loop's (failover.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

import aiohttp
import orjson

from app.errors import PlatformError, ProviderRefused
from app.providers import anthropic_wire
from app.providers.answers import ANSWER_ITEMS, Answer, EventStream, parse_answer
from app.providers.calls import UpstreamCall, items_asked
from app.providers.deployment_client import DeploymentClient
from app.providers.embedder_client import EmbedderClient
from app.providers.failures import (
    TRANSPORT_ERRORS,
    Failure,
    early_failure,
    malformed,
    status_failure,
    transport_failure,
)
from app.providers.http import HttpPool, proxy_for
from app.providers.local_embedder import LocalEmbedder
from app.providers.local_tokenizer import ContextLimit
from app.providers.uploads import form_data, has_uploads
from app.settings import Deployment

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com/v1"
ANTHROPIC_VERSION = "2023-06-01"

Answered = Answer | EventStream
#: What each attempt sends: the JSON, encoded once; a form with files, built anew (aiohttp
#: sends a form once).
Body = Callable[[], bytes | aiohttp.FormData]


def encoded(payload: dict[str, Any]) -> Body:
    if has_uploads(payload):
        return lambda: form_data(payload)
    data = orjson.dumps(payload)
    return lambda: data


class ProviderClient(DeploymentClient):
    """A deployment that speaks OpenAI's protocol over HTTP."""

    #: It has a model list to probe for readiness.
    lists_models: ClassVar[bool] = True

    def __init__(
        self, deployment: Deployment, http: HttpPool, base_url: str,
        headers: Mapping[str, str], params: Mapping[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(deployment)
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", **headers}
        self._form_headers = dict(headers)  # aiohttp sets a form's Content-Type (its boundary)
        self._params = dict(params or {})
        seconds = deployment.timeout  # no total: a stream may last longer than any one step
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=seconds, sock_connect=seconds, sock_read=seconds
        )
        self._proxy = proxy_for(self.base_url)

    async def send(
        self, endpoint: str, payload: dict[str, Any], body: Body, stream: bool,
        call: UpstreamCall,
    ) -> Answered:  # fmt: skip
        """One attempt: a whole checked answer, or a stream whose first content has arrived;
        a `Failure` (failures.py) if it gives neither."""
        started = time.perf_counter()
        response: aiohttp.ClientResponse | None = None
        data = body()
        headers = self._headers if isinstance(data, bytes) else self._form_headers
        try:
            response = await self._http.session.post(
                f"{self.base_url}/{self.path(endpoint)}", data=data, headers=headers,
                params=self._params,
                timeout=self._timeout, proxy=self._proxy, allow_redirects=False,
            )  # fmt: skip
            if not 200 <= response.status < 300:
                raise status_failure(response.status, response.headers, await response.read())
            if not stream:
                raw = self.chat_answer(await response.read())
                seconds = time.perf_counter() - started
                answer = parse_answer(raw, seconds, endpoint, items_asked(endpoint, payload))
                _note(call, endpoint, answer)
                return answer
            if response.content_type != "text/event-stream":
                raise Failure(malformed(f"'{response.content_type}' for an event stream"),
                              counts=True, retryable=False)  # fmt: skip
            asked = items_asked(endpoint, payload)
            events = EventStream(response, call, asked, self.chat_lines(response.content))
            await events.first_content()
            response = None  # the stream's own now
            return events
        except (Failure, asyncio.CancelledError):
            raise
        except PlatformError as error:  # a malformed, cut or failed answer (answers.py)
            raise early_failure(error) from None
        except TRANSPORT_ERRORS as exc:
            raise transport_failure(exc) from None
        finally:
            if response is not None:
                response.close()  # a body not read to its end drops the connection

    def path(self, endpoint: str) -> str:
        """Where the provider serves `endpoint`, under its base URL."""
        return endpoint

    def chat_answer(self, raw: bytes) -> bytes:
        """A whole answer in chat completions' protocol (OpenAI's: as it came)."""
        return raw

    def chat_lines(self, lines: AsyncIterator[bytes]) -> AsyncIterator[bytes] | None:
        """An event stream's lines in chat completions' protocol (None: as they come)."""
        return None

    async def probe(self) -> str | None:
        """None when the deployment answers its model list, else the problem."""
        if not self.lists_models:
            return None
        try:
            async with self._http.session.get(
                f"{self.base_url}/models", headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=3.0), proxy=self._proxy,
            ) as response:  # fmt: skip
                status = response.status
        except TRANSPORT_ERRORS:
            return "does not answer"
        return "refuses the API key" if status in (401, 403) else None


def _bearer(deployment: Deployment) -> dict[str, str]:
    key = deployment.api_key.get_secret_value() if deployment.api_key else None
    return {"Authorization": f"Bearer {key}"} if key else {}


class OpenAIClient(ProviderClient):
    def __init__(self, deployment: Deployment, http: HttpPool) -> None:
        base = deployment.base_url or OPENAI_BASE_URL
        super().__init__(deployment, http, base, _bearer(deployment))


class CompatibleClient(ProviderClient):
    def __init__(self, deployment: Deployment, http: HttpPool, base_url: str) -> None:
        super().__init__(deployment, http, base_url, _bearer(deployment))

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        payload = super().payload(body)
        limit = payload.pop("max_completion_tokens", None)
        if limit is not None:
            payload["max_tokens"] = limit
        return payload


class LlamaCppClient(CompatibleClient):
    endpoints = ("chat/completions", "completions")
    counts_exactly = True

    def __init__(
        self, deployment: Deployment, http: HttpPool, base_url: str, context: ContextLimit | None
    ) -> None:
        super().__init__(deployment, http, base_url)
        self._context = context

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """OpenAI's `json_schema` response format as llama.cpp's server takes it
        (`json_object` with the schema), which it enforces with a grammar."""
        payload = super().payload(body)
        given = payload.get("response_format")
        if isinstance(given, dict) and given.get("type") == "json_schema":
            schema = (given.get("json_schema") or {}).get("schema")
            translated: dict[str, Any] = {"type": "json_object"}
            if schema:
                translated["schema"] = schema
            payload["response_format"] = translated
        return payload

    def refusal(self, endpoint: str, payload: Mapping[str, Any]) -> ProviderRefused | None:
        return self._context.refusal(endpoint, payload) if self._context else None


class AzureClient(ProviderClient):
    lists_models = False  # Azure has no model list to ask

    def __init__(self, deployment: Deployment, http: HttpPool) -> None:
        key = deployment.api_key.get_secret_value() if deployment.api_key else None
        endpoint = (deployment.azure_endpoint or "").rstrip("/")
        super().__init__(
            deployment, http, f"{endpoint}/openai/deployments/{deployment.model}",
            {"api-key": key} if key else {}, {"api-version": deployment.api_version or ""},
        )  # fmt: skip


class AnthropicClient(ProviderClient):
    """Anthropic's Messages API: chat completions sent as Messages, answers translated back
    (anthropic_wire.py), its usage exact."""

    endpoints = ("chat/completions",)

    def __init__(self, deployment: Deployment, http: HttpPool) -> None:
        key = deployment.api_key.get_secret_value() if deployment.api_key else ""
        headers = {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}
        super().__init__(deployment, http, deployment.base_url or ANTHROPIC_BASE_URL, headers)

    def payload(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return anthropic_wire.messages_request(body, self.deployment.model)

    def path(self, endpoint: str) -> str:
        return "messages"

    def chat_answer(self, raw: bytes) -> bytes:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise malformed("an answer that is not JSON") from None
        if not isinstance(message, dict) or message.get("type") != "message":
            raise malformed("an answer that is not a message")
        return orjson.dumps(anthropic_wire.chat_completion(message))

    def chat_lines(self, lines: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        return anthropic_wire.chat_chunk_lines(lines)


Client = ProviderClient | EmbedderClient


def client_for(
    deployment: Deployment, http: HttpPool, local_url: str | None,
    context: ContextLimit | None, embedder: LocalEmbedder | None,
) -> Client:  # fmt: skip
    """The client of `deployment`'s provider kind: the registry."""
    match deployment.provider:
        case "openai":
            return OpenAIClient(deployment, http)
        case "azure":
            return AzureClient(deployment, http)
        case "openai-compatible":
            return CompatibleClient(deployment, http, deployment.base_url or "")
        case "anthropic":
            return AnthropicClient(deployment, http)
        case "local":
            return LlamaCppClient(deployment, http, f"{local_url}/v1", context)
        case "local-embed":
            assert embedder is not None, "an alias uses local-embed, so it was built"
            return EmbedderClient(deployment, embedder)


def uses_llama_cpp(deployments: list[Deployment]) -> bool:
    """Whether any of `deployments` is the embedded chat model (its server is then started)."""
    return any(deployment.provider == "local" for deployment in deployments)


def uses_embedder(deployments: list[Deployment]) -> bool:
    """Whether any of `deployments` is the embedded embedding model (it is then loaded)."""
    return any(deployment.provider == "local-embed" for deployment in deployments)


def _note(call: UpstreamCall, endpoint: str, answer: Answer) -> None:
    """What a whole answer produced, on its call: choices, or images, and reported usage."""
    call.usage = answer.usage
    call.answered = True
    if endpoint not in ANSWER_ITEMS:
        call.choices.extend(answer.data["choices"])
    elif endpoint.startswith("images/"):
        call.images = len(answer.data["data"])
