"""Prompt templates as data: `prompts/<name>.yaml` files, checked when they are loaded.

A file holds a name, a version, a description, its input variables, default model
parameters and the messages. Message templates use Jinja2 (sandboxed), so optional inputs
can be written as `{% if max_words %}...{% endif %}`; `placeholder: <variable>` inserts a list
of messages (a chat history).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import Template, meta
from jinja2.sandbox import SandboxedEnvironment
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.prompts.chat import BaseChatPromptTemplate
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator


class PromptFileError(ValueError):
    """A prompt file is missing or does not describe a valid template."""


class ModelDefaults(BaseModel):
    model_config = {"extra": "forbid"}

    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(256, ge=1)


class PromptMessage(BaseModel):
    model_config = {"extra": "forbid"}

    role: Literal["system", "human", "ai"] | None = None
    template: str | None = None
    placeholder: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PromptMessage:
        if (self.placeholder is None) == (self.role is None or self.template is None):
            raise ValueError("a message has either role and template, or placeholder")
        return self


class PromptSpec(BaseModel):
    model_config = {"extra": "forbid"}

    name: str
    version: int = Field(ge=1)
    weight: float | None = Field(
        None, ge=0, description="This version's share of unpinned requests in a trial."
    )
    description: str
    input_variables: list[str]
    model: ModelDefaults = Field(default_factory=ModelDefaults)
    messages: list[PromptMessage] = Field(min_length=1)

    def template(self) -> CompiledChatPrompt:
        messages = [
            (m.role or "placeholder", m.template or m.placeholder or "") for m in self.messages
        ]
        template = CompiledChatPrompt(messages=messages)
        declared, found = set(self.input_variables), set(template.input_variables)
        found |= set(template.optional_variables)
        if not found <= declared:
            raise PromptFileError(
                f"prompt '{self.name}': variables {sorted(found - declared)} are used in "
                "messages but not listed in input_variables"
            )
        return template


_ENVIRONMENT = SandboxedEnvironment()
_MESSAGE_TYPES: dict[str, type[BaseMessage]] = {
    "system": SystemMessage, "human": HumanMessage, "ai": AIMessage,
}  # fmt: skip


class CompiledChatPrompt(BaseChatPromptTemplate):
    """A chat prompt of Jinja2 (sandboxed) message templates, compiled once when loaded.

    LangChain's own jinja2 prompts compile their templates again at every request, which
    cost a chain route about a tenth of its time. ("placeholder", name) inserts a list of
    messages (a chat history), if given.
    """

    messages: list[tuple[str, str]]
    _compiled: list[tuple[str, Template | str]] = PrivateAttr(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _variables(cls, data: dict[str, Any]) -> dict[str, Any]:
        required: set[str] = set()
        for role, source in data["messages"]:
            if role != "placeholder":
                required |= meta.find_undeclared_variables(_ENVIRONMENT.parse(source))
        optional = {source for role, source in data["messages"] if role == "placeholder"}
        return {**data, "input_variables": sorted(required - optional),
                "optional_variables": sorted(optional)}  # fmt: skip

    def model_post_init(self, context: Any) -> None:
        self._compiled = [
            (role, source if role == "placeholder" else _ENVIRONMENT.from_string(source))
            for role, source in self.messages
        ]

    def format_messages(self, **kwargs: Any) -> list[BaseMessage]:
        messages: list[BaseMessage] = []
        for role, template in self._compiled:
            if isinstance(template, str):
                messages += convert_to_messages(kwargs.get(template) or [])
            else:
                messages.append(_MESSAGE_TYPES[role](content=template.render(**kwargs)))
        return messages


def load_prompt(prompts_dir: Path, name: str) -> PromptSpec:
    """`prompts_dir/<name>.yaml`; `name` may carry a version (`summarize@2`), which the file's
    `version` must then be."""
    path = prompts_dir / f"{name}.yaml"
    if not path.is_file():
        raise PromptFileError(f"no prompt file {path}")
    try:
        spec = PromptSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PromptFileError(f"{path}: {exc}") from exc
    base, _, version = name.partition("@")
    if spec.name != base:
        raise PromptFileError(f"{path}: name '{spec.name}' differs from the file name")
    if version and version != str(spec.version):
        raise PromptFileError(f"{path}: version {spec.version} differs from the file name's")
    return spec
