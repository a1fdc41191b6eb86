"""What a use case is built from: its declaration, its chain's context and shared input fields."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSequence
from pydantic import Field, StrictInt

from app.providers import ChatRunnable, ModelSelector
from app.schema import optional
from app.settings import Settings
from app.storage.chat_history import ChatHistoryStore
from app.use_cases.prompts import PromptSpec
from app.use_cases.shared_tools import SharedTools
from app.use_cases.versions import PromptVersionSelector, load_prompt_versions

#: The server sets it in every run's `configurable` (clients cannot): the caller's tenant.
TENANT_ID = "tenant_id"

#: An input field several use cases share: an optional word limit.
MaxWords = optional(Annotated[StrictInt, Field(ge=1, le=5000)])


def tenant_of(config: RunnableConfig) -> str:
    """The calling tenant, as the server set it: a run without one is a bug, not a default."""
    tenant_id = config.get("configurable", {}).get(TENANT_ID)
    if not tenant_id:
        raise RuntimeError("a use case ran outside a request: no tenant in its config")
    return tenant_id


@dataclass(frozen=True)
class ChainContext:
    """What a use case may build its chain from: prompts, models and stores."""

    use_case: str
    settings: Settings
    models: Mapping[str, ChatRunnable]
    history: ChatHistoryStore
    #: The organisation's shared tools a run may be offered (`await tools.for_run(config)`).
    tools: SharedTools

    def model(self, temperature: float, max_tokens: int) -> ModelSelector:
        return ModelSelector.create(
            dict(self.models),
            self.settings.model_for(self.use_case),
            temperature=temperature,
            max_tokens=max_tokens,
            max_tokens_limit=self.settings.max_tokens_limit,
        )

    def prompt_chain(
        self, prompt_name: str, *, before: Runnable[Any, Any] | None = None,
        then: Runnable[Any, Any] | None = None,
    ) -> Runnable[dict[str, Any], Any]:  # fmt: skip
        """(before |) prompt | model (| then), with the model defaults the prompt file names.
        The use case's own prompt (named after it) runs in the version each request was given
        (versions.py); another prompt in its newest version."""
        versions = load_prompt_versions(self.settings.prompts_dir, prompt_name)

        def chain_of(spec: PromptSpec) -> Runnable[dict[str, Any], Any]:
            steps = [before, spec.template(), self.model(spec.model.temperature,
                     spec.model.max_tokens), then]  # fmt: skip
            return RunnableSequence(*[step for step in steps if step is not None])

        if prompt_name != self.use_case:
            return chain_of(versions.specs[versions.newest])
        # Each version's chain whole, one flat sequence: a selector nested in a sequence of
        # its own would cost every request one more LangChain run (a tenth of /summarize).
        return PromptVersionSelector.create(versions, chain_of)

    def prompt_and_model(
        self, prompt_name: str
    ) -> tuple[Runnable[dict[str, Any], Any], ModelSelector]:
        """The prompt's newest version and a model with its defaults, apart: for a use case
        that calls the model more than once, with what it adds in between (tools' answers).
        Its other versions (a pin, a trial) do not apply."""
        versions = load_prompt_versions(self.settings.prompts_dir, prompt_name)
        spec = versions.specs[versions.newest]
        return spec.template(), self.model(spec.model.temperature, spec.model.max_tokens)

    def text_chain(
        self, prompt_name: str, *, before: Runnable[Any, Any] | None = None
    ) -> Runnable[dict[str, Any], str]:
        """(before |) prompt | model | text."""
        return self.prompt_chain(prompt_name, before=before, then=StrOutputParser())


class AsyncStep(Runnable[dict[str, Any], Any]):
    """A use case's own step of a chain: async only, as the platform's models are."""

    def invoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        raise NotImplementedError("The platform's chains are async only: use ainvoke.")


@dataclass(frozen=True)
class UseCase:
    """A use case, declared by its module as `USE_CASE`: mounted at `/<name>`."""

    name: str
    build: Callable[[ChainContext], Runnable[Any, Any]]
    playground_type: Literal["default", "chat"] = "default"
    #: The input field an uploaded document's text fills: `POST /<name>/file` is mounted.
    document_field: str | None = None
