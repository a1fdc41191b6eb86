"""Prompt files are data: each loads, and a malformed one is refused with its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import PROJECT_ROOT
from app.use_cases.prompts import PromptFileError, load_prompt
from app.use_cases.registry import discover_use_cases

PROMPTS = PROJECT_ROOT / "prompts"


@pytest.mark.parametrize("path", sorted(PROMPTS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_prompt_file_loads_with_its_metadata(path: Path):
    spec = load_prompt(PROMPTS, path.stem)
    assert spec.version >= 1 and spec.description
    template = spec.template()
    declared = set(spec.input_variables)
    assert set(template.input_variables) | set(template.optional_variables) <= declared


def test_every_use_case_has_a_prompt_file():
    names = [use_case.name for use_case in discover_use_cases()]
    assert names == ["assist", "chat", "code", "complete", "generate", "summarize"]
    for name in names:
        assert (PROMPTS / f"{name}.yaml").is_file()


def test_chat_is_served_with_the_chat_playground():
    kinds = {use_case.name: use_case.playground_type for use_case in discover_use_cases()}
    assert kinds == {
        "assist": "default",
        "chat": "chat",
        "code": "default",
        "complete": "default",
        "generate": "default",
        "summarize": "default",
    }


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text)


def test_a_variable_missing_from_input_variables_is_refused(tmp_path: Path):
    write(
        tmp_path,
        "oops",
        "name: oops\nversion: 1\ndescription: d\ninput_variables: [a]\n"
        "messages:\n  - role: human\n    template: '{{ a }} {{ b }}'\n",
    )
    with pytest.raises(PromptFileError, match=r"\['b'\]"):
        load_prompt(tmp_path, "oops").template()


def test_a_file_whose_name_differs_is_refused(tmp_path: Path):
    write(
        tmp_path,
        "one",
        "name: two\nversion: 1\ndescription: d\ninput_variables: []\n"
        "messages:\n  - role: human\n    template: hi\n",
    )
    with pytest.raises(PromptFileError, match="differs"):
        load_prompt(tmp_path, "one")


def test_a_missing_field_is_refused_with_the_file_path(tmp_path: Path):
    write(tmp_path, "bare", "name: bare\n")
    with pytest.raises(PromptFileError, match=r"bare\.yaml"):
        load_prompt(tmp_path, "bare")
