"""Prompt templates as data: `prompts/<name>.yaml` files, checked when they are loaded.

A file holds a name, a version, a description, its input variables, default model
parameters and the messages. Message templates use Jinja2 (sandboxed), so optional inputs
can be written as `{% if max_words %}...{% endif %}`; `placeholder: <variable>` inserts a list
of messages (a chat history).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from pydantic import BaseModel, Field, ValidationError, model_validator


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
    description: str
    input_variables: list[str]
    model: ModelDefaults = Field(default_factory=ModelDefaults)
    messages: list[PromptMessage] = Field(min_length=1)

    def template(self) -> ChatPromptTemplate:
        parts: list[MessagesPlaceholder | tuple[str, str]] = [
            MessagesPlaceholder(m.placeholder, optional=True)
            if m.placeholder
            else (str(m.role), str(m.template))
            for m in self.messages
        ]
        template = ChatPromptTemplate.from_messages(parts, template_format="jinja2")
        declared, found = set(self.input_variables), set(template.input_variables)
        found |= set(template.optional_variables)
        if not found <= declared:
            raise PromptFileError(
                f"prompt '{self.name}': variables {sorted(found - declared)} are used in "
                "messages but not listed in input_variables"
            )
        return template


def load_prompt(prompts_dir: Path, name: str) -> PromptSpec:
    path = prompts_dir / f"{name}.yaml"
    if not path.is_file():
        raise PromptFileError(f"no prompt file {path}")
    try:
        spec = PromptSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PromptFileError(f"{path}: {exc}") from exc
    if spec.name != name:
        raise PromptFileError(f"{path}: name '{spec.name}' differs from the file name")
    return spec
