"""The use cases the server mounts, found by scanning the `chains` package at startup.

Adding a use case takes two files: `prompts/<name>.yaml` and `chains/<name>.py`, the module
exporting `USE_CASE = UseCase(name=..., build=...)`. The package is imported by name: the core
never imports a use case (an import contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

import importlib
import pkgutil

from app.use_cases.kit import UseCase

USE_CASES_PACKAGE = "chains"


def discover_use_cases(package_name: str = USE_CASES_PACKAGE) -> list[UseCase]:
    """Every `USE_CASE` defined by a module of the package, by name."""
    package = importlib.import_module(package_name)
    found = []
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        use_case = getattr(module, "USE_CASE", None)
        if isinstance(use_case, UseCase):
            found.append(use_case)
    return sorted(found, key=lambda use_case: use_case.name)
