"""The import contracts in pyproject.toml hold for the code, and each one catches the import
it exists to forbid: a copy of the code with one wrong import added fails `lint-imports`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

#: (a module, a line appended to it, the contract that must break)
VIOLATIONS = [
    ("app/usage/ledger.py", "import app.api.deps", "The platform is layered"),
    ("app/providers/http.py", "import app.providers.dispatcher", "No import cycles"),
    ("app/main.py", "import chains.chat", "The core never imports a use case"),
    ("chains/generate.py", "from app.settings import Settings", "through its kit"),
    ("chains/generate.py", "import chains.chat", "Use cases are independent"),
    ("app/api/usage.py", "import aiohttp", "aiohttp stays behind the provider boundary"),
    ("app/usage/ledger.py", "import app.providers.failover", "through their public face"),
    ("app/newpackage/__init__.py", "", "The platform is layered"),  # a package with no layer
]


def _lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=folder, capture_output=True, text=True, timeout=120
    )


def _copy_of_the_code(tmp_path: Path) -> Path:
    for part in ("app", "chains"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_code_keeps_every_contract(tmp_path: Path):
    checked = _lint_imports(_copy_of_the_code(tmp_path))
    assert checked.returncode == 0, checked.stdout
    assert "0 broken" in checked.stdout


@pytest.mark.parametrize(("module", "line", "contract"), VIOLATIONS)
def test_a_forbidden_import_breaks_its_contract(tmp_path: Path, module, line, contract):
    folder = _copy_of_the_code(tmp_path)
    path = folder / module
    path.parent.mkdir(exist_ok=True)
    with path.open("a") as source:
        source.write(f"\n{line}  # noqa\n" if line else "")
    checked = _lint_imports(folder)
    assert checked.returncode == 1
    broken = checked.stdout.split("Broken contracts", 1)[1]
    assert contract in broken


def _diagram() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Architecture")
    return readme[start : readme.index("```", readme.index("```", start) + 3)]


def test_the_readmes_diagram_names_every_package_and_module_of_the_platform():
    diagram = _diagram()
    missing = [
        str(path.relative_to(ROOT / "app"))
        for path in sorted((ROOT / "app").rglob("*.py"))
        if "migrations" not in path.parts
        and path.name != "__init__.py"
        and path.stem not in diagram
    ]
    packages = [p.name for p in (ROOT / "app").iterdir() if (p / "__init__.py").is_file()]
    missing += [f"{name}/" for name in packages if f"{name}/" not in diagram]
    assert missing == [], "README's diagram misses these; add them where they belong"
