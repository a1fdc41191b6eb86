"""The use cases the server mounts, found by scanning this package.

Adding a use case takes two files: `prompts/<name>.yaml` and `chains/<name>.py`, the module
exporting `USE_CASE = UseCase(name=..., build=...)`. The server mounts every use case found
here at `/<name>` with LangServe's routes and playground.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable
from pydantic import Field, StrictInt

from app.providers.catalog import ChatRunnable
from app.providers.selector import ModelSelector
from app.schema import optional
from app.settings import Settings
from app.storage.chat_history import ChatHistoryStore
from chains.prompts import load_prompt

#: The server sets it in every run's `configurable` (clients cannot): the caller's tenant.
TENANT_ID = "tenant_id"

#: An input field several use cases share: an optional word limit.
MaxWords = optional(Annotated[StrictInt, Field(ge=1, le=5000)])


@dataclass(frozen=True)
class ChainContext:
    """What a use case may build its chain from: prompts, models and stores."""

    use_case: str
    settings: Settings
    models: Mapping[str, ChatRunnable]
    history: ChatHistoryStore

    def model(self, temperature: float, max_tokens: int) -> ModelSelector:
        return ModelSelector.create(
            dict(self.models),
            self.settings.model_for(self.use_case),
            temperature=temperature,
            max_tokens=max_tokens,
            max_tokens_limit=self.settings.max_tokens_limit,
        )

    def prompt_chain(self, prompt_name: str) -> Runnable[dict[str, Any], Any]:
        """prompt | model, with the model defaults the prompt file names."""
        spec = load_prompt(self.settings.prompts_dir, prompt_name)
        return spec.template() | self.model(spec.model.temperature, spec.model.max_tokens)

    def text_chain(self, prompt_name: str) -> Runnable[dict[str, Any], str]:
        """prompt | model | text."""
        return self.prompt_chain(prompt_name) | StrOutputParser()


@dataclass(frozen=True)
class UseCase:
    name: str
    build: Callable[[ChainContext], Runnable[Any, Any]]
    playground_type: Literal["default", "chat"] = "default"


def discover_use_cases() -> list[UseCase]:
    """Every `USE_CASE` defined by a module of this package, by name."""
    package = importlib.import_module(__package__ or "chains")
    found = []
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        use_case = getattr(module, "USE_CASE", None)
        if isinstance(use_case, UseCase):
            found.append(use_case)
    return sorted(found, key=lambda use_case: use_case.name)
