"""/code: code synthesis, checked by a real parser and repaired from its complaint.

The model writes the code (`prompts/code.yaml`); the language's parser checks it (Python: `ast`,
JSON, YAML, TOML: their standard parsers, SQL: sqlglot). A rejected attempt goes back to the
model with the parser's message, up to `code_max_attempts` in all. Code is parsed, never run.

The output is `{code, language, valid, attempts, diagnostics}`. On `/stream`, an attempt known to
be the last (the final one allowed) streams its code as it is written, in `code` pieces; an
earlier attempt that passes is sent whole. The code is the reply's first fenced block (or the
whole reply, without one), read the same way whole or streamed.
"""

from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import sqlglot
import yaml
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.utils import AddableDict, ConfigurableFieldSpec
from pydantic import BaseModel, Field
from sqlglot import exp
from sqlglot.errors import ParseError

from app.use_cases import AsyncStep, ChainContext, UseCase, optional

FENCE = "```"


def _python(code: str) -> list[str]:
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return [f"line {exc.lineno}, column {exc.offset}: {exc.msg}"]
    return []


def _json(code: str) -> list[str]:
    try:
        json.loads(code)
    except json.JSONDecodeError as exc:
        return [f"line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    return []


def _yaml(code: str) -> list[str]:
    try:
        yaml.safe_load(code)
    except yaml.YAMLError as exc:
        return [str(exc).replace("\n", " ")]
    return []


def _toml(code: str) -> list[str]:
    try:
        tomllib.loads(code)
    except tomllib.TOMLDecodeError as exc:
        return [str(exc)]
    return []


def _sql(code: str) -> list[str]:
    try:
        statements = sqlglot.parse(code, error_level=sqlglot.ErrorLevel.RAISE)
    except ParseError as exc:
        return [error["description"] + f" (line {error['line']}, column {error['col']})"
                for error in exc.errors] or [str(exc)]  # fmt: skip
    return [
        f"'{statement.sql()[:40]}' is not a SQL statement"
        for statement in statements
        if statement is not None and not isinstance(statement, _STATEMENTS)
    ]


#: What a SQL statement parses to (an expression alone, or a misspelt keyword, does not).
_STATEMENTS = (exp.Query, exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.Use, exp.Set, exp.Transaction,
               exp.Commit, exp.Rollback)  # fmt: skip


#: The parser of each language the use case writes: the diagnostics of some code, [] if none.
CHECKS: dict[str, Callable[[str], list[str]]] = {
    "python": _python, "json": _json, "sql": _sql, "yaml": _yaml, "toml": _toml,
}  # fmt: skip
Language = Literal["python", "json", "sql", "yaml", "toml"]


class CodeInput(BaseModel):
    task: str = Field(min_length=1, description="What the code must do.")
    language: Language = Field(description="The language to write; its parser checks the code.")
    context: optional(str) = Field(None, description="Code or facts the task builds on.")


class CodeOutput(BaseModel):
    code: str
    language: Language
    valid: bool = Field(description="Whether the language's parser accepts the code.")
    attempts: int = Field(description="Replies the model wrote, repairs included.")
    diagnostics: list[str] = Field(description="The parser's complaints about the code.")


class FencedCode:
    """Reads the code out of a reply as it arrives: the first fenced block's body (text before
    it is dropped), or, if the reply has no fence, all of it, stripped."""

    def __init__(self) -> None:
        self._buffer = ""
        self._state: Literal["before", "inside", "after"] = "before"

    def feed(self, text: str) -> str:
        """The code this piece of the reply completes (possibly none yet)."""
        self._buffer += text
        if self._state == "before":
            start = self._buffer.find(FENCE)
            line_end = self._buffer.find("\n", start) if start >= 0 else -1
            if line_end < 0:
                return ""
            self._buffer, self._state = self._buffer[line_end + 1 :], "inside"
        if self._state != "inside":
            return ""
        end = self._buffer.find("\n" + FENCE)
        if end >= 0:
            code, self._buffer, self._state = self._buffer[: end + 1], "", "after"
            return code
        closing = "\n" + FENCE
        kept = next((n for n in range(len(FENCE), 0, -1) if self._buffer.endswith(closing[:n])), 0)
        cut = len(self._buffer) - kept  # a closing fence may be arriving: hold its start back
        code, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return code

    def end(self) -> str:
        """The rest, once the reply is complete."""
        rest, self._buffer = self._buffer, ""
        return rest.strip() if self._state == "before" else rest if self._state == "inside" else ""


def diagnose(language: str, code: str) -> list[str]:
    """The parser's complaints about `code`; a reply with no code is one too."""
    return CHECKS[language](code) if code.strip() else ["the reply holds no code"]


def code_of(reply: str) -> str:
    reader = FencedCode()
    return reader.feed(reply) + reader.end()


class WriteAndRepair(AsyncStep):
    """Write, check, repair: up to `max_attempts` replies (module doc)."""

    name = "write_and_repair"

    def __init__(self, write: Runnable[dict[str, Any], str], max_attempts: int) -> None:
        self._write = write
        self._max_attempts = max_attempts

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The writing chain's fields (model, temperature, max_tokens, prompt_version): LangServe
        keeps only the configurable values a chain declares."""
        return self._write.config_specs

    async def ainvoke(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = AddableDict()
        async for chunk in self.astream(input, config, **kwargs):
            result = result + chunk if result else chunk
        return result

    async def astream(
        self, input: dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[dict[str, Any]]:
        language = input["language"]
        prompt = {"task": input["task"], "language": language, "context": input.get("context"),
                  "attempt": "", "diagnostics": ""}  # fmt: skip
        for attempt in range(1, self._max_attempts + 1):
            if attempt < self._max_attempts:
                code = code_of(await self._write.ainvoke(prompt, config))
                diagnostics = diagnose(language, code)
                if diagnostics:
                    prompt = {**prompt, "attempt": code, "diagnostics": "; ".join(diagnostics)}
                    continue
                yield AddableDict(code=code)
            else:  # the last one allowed: streamed as it is written
                reader, pieces = FencedCode(), []
                async for text in self._write.astream(prompt, config):
                    if piece := reader.feed(text):
                        pieces.append(piece)
                        yield AddableDict(code=piece)
                if rest := reader.end():
                    pieces.append(rest)
                    yield AddableDict(code=rest)
                diagnostics = diagnose(language, "".join(pieces))
            yield AddableDict(
                language=language, valid=not diagnostics, attempts=attempt, diagnostics=diagnostics
            )
            return


def build(context: ChainContext) -> Runnable[Any, Any]:
    chain = WriteAndRepair(context.text_chain("code"), context.settings.code_max_attempts)
    return chain.with_types(input_type=CodeInput, output_type=CodeOutput)


USE_CASE = UseCase(name="code", build=build)
