"""Model providers: the chat clients behind each model alias, and per-request model choice.

What the rest of the platform uses is exported here; the modules of the package are its own
business (an import contract in pyproject.toml forbids reaching past this face).

The chains' side (the alias chat models and the selector, LangChain's) is loaded on first use:
/v1 never needs it, and a cold start does not pay for it.
"""

from typing import TYPE_CHECKING, Any

from app.providers.accounting import AccountHolder, CallAccount
from app.providers.answers import Answer, ChunkStream
from app.providers.breaker import CircuitBreakers, RedisCircuitBreakers, State
from app.providers.calls import Prompt, UpstreamCall, prompt_of
from app.providers.clients import uses_llama_cpp
from app.providers.dispatcher import Dispatcher
from app.providers.mock_transport import MockResponse, MockTransport, UpstreamRequest
from app.providers.model_providers import ModelProviders
from app.providers.tool_servers import ToolServers
from app.providers.uploads import Upload

if TYPE_CHECKING:
    from app.providers.alias_model import ChatRunnable, account_in
    from app.providers.selector import MODEL_ALIAS_METADATA, ModelSelector


def __getattr__(name: str) -> Any:
    """The chains' side of the face, imported when it is first asked for."""
    if name in ("ChatRunnable", "account_in"):
        from app.providers import alias_model

        return getattr(alias_model, name)
    if name in ("MODEL_ALIAS_METADATA", "ModelSelector"):
        from app.providers import selector

        return getattr(selector, name)
    raise AttributeError(f"module 'app.providers' has no attribute {name!r}")


__all__ = [
    "MODEL_ALIAS_METADATA",
    "AccountHolder",
    "Answer",
    "CallAccount",
    "ChatRunnable",
    "ChunkStream",
    "CircuitBreakers",
    "Dispatcher",
    "MockResponse",
    "MockTransport",
    "ModelProviders",
    "ModelSelector",
    "Prompt",
    "RedisCircuitBreakers",
    "State",
    "ToolServers",
    "Upload",
    "UpstreamCall",
    "UpstreamRequest",
    "account_in",
    "prompt_of",
    "uses_llama_cpp",
]
