"""The client registry: every provider kind the settings accept has a client of its own, and
each is sent only the endpoints its provider serves."""

from __future__ import annotations

import typing

import pytest

from app.providers.clients import (
    AnthropicClient,
    AzureClient,
    CompatibleClient,
    LlamaCppClient,
    OpenAIClient,
    client_for,
)
from app.providers.embedder_client import EmbedderClient
from app.providers.http import HttpPool
from app.providers.local_embedder import LocalEmbedder
from app.settings import Deployment, ProviderKind

DEPLOYMENTS: dict[str, Deployment] = {
    "openai": Deployment(provider="openai", model="gpt-4o-mini"),
    "azure": Deployment(
        provider="azure", model="gpt-4o", azure_endpoint="https://x.example", api_version="1"
    ),
    "openai-compatible": Deployment(
        provider="openai-compatible", model="m", base_url="http://127.0.0.1:1/v1"
    ),
    "local": Deployment(provider="local"),
    "local-embed": Deployment(provider="local-embed"),
    "anthropic": Deployment(provider="anthropic", model="claude-x"),
}
EXPECTED = {
    "openai": OpenAIClient,
    "azure": AzureClient,
    "openai-compatible": CompatibleClient,
    "local": LlamaCppClient,
    "local-embed": EmbedderClient,
    "anthropic": AnthropicClient,
}


def test_every_provider_kind_has_its_own_client():
    assert set(typing.get_args(ProviderKind)) == set(DEPLOYMENTS) == set(EXPECTED)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_the_registry_gives_each_kind_its_client(kind: str):
    embedder = LocalEmbedder(None, None)  # type: ignore[arg-type]  # never loaded here
    client = client_for(DEPLOYMENTS[kind], HttpPool(), "http://127.0.0.1:9", None, embedder)
    assert type(client) is EXPECTED[kind]


def test_embedded_models_are_sent_only_what_they_serve():
    http = HttpPool()
    llama = LlamaCppClient(DEPLOYMENTS["local"], http, "http://127.0.0.1:9/v1", None)
    remote = OpenAIClient(DEPLOYMENTS["openai"], http)
    embedder = EmbedderClient(DEPLOYMENTS["local-embed"], LocalEmbedder(None, None))  # type: ignore[arg-type]
    assert [llama.serves(e) for e in ("chat/completions", "completions", "embeddings")] == [
        True, True, False,
    ]  # fmt: skip
    assert not embedder.serves("chat/completions") and embedder.serves("embeddings")
    assert remote.serves("images/generations") and remote.serves("embeddings")
    claude = AnthropicClient(DEPLOYMENTS["anthropic"], http)
    assert [claude.serves(e) for e in ("chat/completions", "completions", "embeddings")] == [
        True, False, False,
    ], "Anthropic's Messages API is a chat API only"  # fmt: skip


def test_azure_names_the_deployment_in_its_url_and_has_no_model_list_to_probe():
    client = AzureClient(DEPLOYMENTS["azure"], HttpPool())
    assert client.base_url == "https://x.example/openai/deployments/gpt-4o"
    assert not client.lists_models
