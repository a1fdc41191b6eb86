"""Model providers: the chat clients behind each model alias, and per-request model choice.

What the rest of the platform uses is exported here; the modules of the package are its own
business (an import contract in pyproject.toml forbids reaching past this face).
"""

from app.providers.accounting import AccountHolder, CallAccount
from app.providers.alias_model import ChatRunnable
from app.providers.answers import Answer, ChunkStream
from app.providers.breaker import CircuitBreakers, RedisCircuitBreakers, State
from app.providers.calls import Prompt, prompt_of
from app.providers.clients import uses_llama_cpp
from app.providers.dispatcher import Dispatcher
from app.providers.model_providers import ModelProviders
from app.providers.selector import MODEL_ALIAS_METADATA, ModelSelector
from app.providers.uploads import Upload

__all__ = [
    "MODEL_ALIAS_METADATA",
    "AccountHolder",
    "Answer",
    "CallAccount",
    "ChatRunnable",
    "ChunkStream",
    "CircuitBreakers",
    "Dispatcher",
    "ModelProviders",
    "ModelSelector",
    "Prompt",
    "RedisCircuitBreakers",
    "State",
    "Upload",
    "prompt_of",
    "uses_llama_cpp",
]
