"""Versions of a prompt, kept side by side: `prompts/<name>.yaml` and `prompts/<name>@<n>.yaml`.

Each file is one version (its `version` field; in `<name>@<n>.yaml` it must be n). Unless
pinned, a request gets the newest version; when some versions set a `weight`, requests are split
between those in proportion (a trial: `weight: 90` on version 1, `weight: 10` on version 2).
A request pins one with `config.configurable.prompt_version`. The server draws the version
before the run, so the ledger row, the trace and the log line name the version that ran.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.configurable import DynamicRunnable
from langchain_core.runnables.utils import ConfigurableFieldSpec, get_unique_config_specs
from pydantic import WithJsonSchema

from app.schema import optional
from app.use_cases.prompts import PromptFileError, PromptSpec, load_prompt

#: The configurable field that pins a version.
PROMPT_VERSION = "prompt_version"


@dataclass(frozen=True)
class PromptVersions:
    name: str
    specs: dict[int, PromptSpec]  # by version

    @property
    def newest(self) -> int:
        return max(self.specs)

    def draw(self) -> int:
        """The version an unpinned request gets: by the files' weights, else the newest."""
        weighted = {v: spec.weight for v, spec in self.specs.items() if spec.weight is not None}
        if not weighted or not any(weighted.values()):
            return self.newest
        versions = list(weighted)
        return random.choices(versions, weights=[weighted[v] for v in versions])[0]

    def label(self, version: int) -> str:
        """How the ledger, traces and logs name the prompt: `<name>@<version>`."""
        return f"{self.name}@{version}"


@functools.cache
def load_prompt_versions(prompts_dir: Path, name: str) -> PromptVersions:
    """Every version of a prompt (loaded once per process)."""
    specs = {}
    for path in [prompts_dir / f"{name}.yaml", *sorted(prompts_dir.glob(f"{name}@*.yaml"))]:
        if not path.is_file():
            continue
        spec = load_prompt(path.parent, path.stem)
        if spec.version in specs:
            raise PromptFileError(f"{path}: version {spec.version} of '{name}' is defined twice")
        specs[spec.version] = spec
    if not specs:
        raise PromptFileError(f"no prompt file {prompts_dir / f'{name}.yaml'}")
    return PromptVersions(name, specs)


class PromptVersionSelector(DynamicRunnable):
    """The chain of the version the run's `prompt_version` names (as the server set it)."""

    chains: dict[int, Runnable[Any, Any]]
    newest: int

    @classmethod
    def create(
        cls, versions: PromptVersions, chain_of: Callable[[PromptSpec], Runnable[Any, Any]]
    ) -> PromptVersionSelector:
        chains = {version: chain_of(spec) for version, spec in versions.specs.items()}
        return cls(default=chains[versions.newest], chains=chains, newest=versions.newest)

    @property
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The version's field, and those of the chains it chooses between (the model's)."""
        nested = [spec for chain in self.chains.values() for spec in chain.config_specs]
        return get_unique_config_specs([_version_spec(tuple(sorted(self.chains))), *nested])

    def _prepare(
        self, config: RunnableConfig | None = None
    ) -> tuple[Runnable[Any, Any], RunnableConfig]:
        version = (config or {}).get("configurable", {}).get(PROMPT_VERSION) or self.newest
        return self.chains[version], config or {}


@functools.cache
def _version_spec(versions: tuple[int, ...]) -> ConfigurableFieldSpec:
    return ConfigurableFieldSpec(
        id=PROMPT_VERSION,
        name="Prompt version",
        description=f"Pin a version of the prompt, one of: {', '.join(map(str, versions))}; "
        "unset: the newest, or the prompt files' trial split.",
        annotation=optional(
            Annotated[Literal[versions], WithJsonSchema({"enum": list(versions)})]  # type: ignore[valid-type]
        ),
        default=None,
    )
