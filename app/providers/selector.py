"""Per-request model choice through LangServe `configurable` fields, each one allow-listed.

A chain holds a `ModelSelector` where it needs a chat model. Clients pick `model` (an alias
from the settings), `temperature` (0-2) and `max_tokens` (1 to the configured limit) in
`config.configurable`; LangServe validates those against the schema this class declares, so
a bad value is a 422 naming the field before anything runs. Unset fields fall back to the
defaults of the prompt file the selector serves.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.configurable import DynamicRunnable
from langchain_core.runnables.utils import ConfigurableFieldSpec
from pydantic import Field, StrictFloat, StrictInt, WithJsonSchema

from app.errors import InvalidRequest
from app.providers.alias_model import ChatRunnable
from app.schema import optional

#: Run metadata naming the alias a model call went to (read by the usage meter).
MODEL_ALIAS_METADATA = "model_alias"
#: Bound models kept per selector; clients choose temperatures freely, so the set is capped.
MAX_BINDINGS = 256


class ModelSelector(DynamicRunnable):
    models: dict[str, ChatRunnable]
    default_alias: str
    default_temperature: float = 0.7
    default_max_tokens: int = 256
    max_tokens_limit: int = 2048
    bindings: dict[tuple[str, float, int], Runnable[Any, Any]] = Field(
        default_factory=dict, exclude=True, repr=False
    )

    @classmethod
    def create(
        cls,
        models: dict[str, ChatRunnable],
        default_alias: str,
        *,
        temperature: float,
        max_tokens: int,
        max_tokens_limit: int,
    ) -> ModelSelector:
        return cls(
            default=models[default_alias],
            models=models,
            default_alias=default_alias,
            default_temperature=temperature,
            default_max_tokens=min(max_tokens, max_tokens_limit),
            max_tokens_limit=max_tokens_limit,
        )

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        return list(_config_specs(tuple(self.models), self.default_alias, self.max_tokens_limit))

    def _prepare(
        self, config: RunnableConfig | None = None
    ) -> tuple[Runnable[Any, Any], RunnableConfig]:
        config = config or {}
        configurable = config.get("configurable", {})
        alias = configurable.get("model", self.default_alias)
        if alias not in self.models:
            raise InvalidRequest(
                f"Unknown model '{alias}'; use one of: {', '.join(self.models)}.",
                param="config.configurable.model",
                code="unknown_model",
            )
        temperature = configurable.get("temperature")
        max_tokens = configurable.get("max_tokens")
        model = self._bound(
            alias,
            self.default_temperature if temperature is None else temperature,
            self.default_max_tokens if max_tokens is None else max_tokens,
        )
        metadata = {**config.get("metadata", {}), MODEL_ALIAS_METADATA: alias}
        return model, {**config, "metadata": metadata}

    def _bound(self, alias: str, temperature: float, max_tokens: int) -> Runnable[Any, Any]:
        """The alias's model bound to these parameters, built once: a binding is a pydantic
        model, and building one per request cost a twentieth of a chain request's CPU."""
        key = (alias, temperature, max_tokens)
        model = self.bindings.get(key)
        if model is None:
            if len(self.bindings) >= MAX_BINDINGS:
                self.bindings.clear()
            model = self.bindings[key] = self.models[alias].bind(
                temperature=temperature, max_tokens=max_tokens
            )
        return model


@functools.cache
def _config_specs(
    aliases: tuple[str, ...], default_alias: str, max_tokens_limit: int
) -> tuple[ConfigurableFieldSpec, ...]:
    """The specs, built once: selectors in one chain must declare equal (identical) specs."""
    return (
        ConfigurableFieldSpec(
            id="model",
            name="Model",
            description=f"Model alias, one of: {', '.join(aliases)}.",
            # An enum even for one alias: the playground cannot render `const`.
            annotation=Annotated[Literal[aliases], WithJsonSchema({"enum": list(aliases)})],  # type: ignore[valid-type]
            default=default_alias,
        ),
        ConfigurableFieldSpec(
            id="temperature",
            name="Temperature",
            description="Sampling temperature, 0 to 2; unset: the prompt's default.",
            annotation=optional(Annotated[StrictFloat, Field(ge=0, le=2)]),
            default=None,
        ),
        ConfigurableFieldSpec(
            id="max_tokens",
            name="Max tokens",
            description=(
                f"Most tokens to generate, 1 to {max_tokens_limit}; unset: the prompt's default."
            ),
            annotation=optional(Annotated[StrictInt, Field(ge=1, le=max_tokens_limit)]),
            default=None,
        ),
    )
