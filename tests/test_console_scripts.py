"""The console's scripts (app/console/js/, ES modules): their unit tests under Node's own
runner (tests/js/console/*.test.mjs), and what keeps the console driven by /me."""

from __future__ import annotations

import re
import subprocess

from app.settings import PROJECT_ROOT
from app.use_cases.registry import discover_use_cases

SCRIPTS = PROJECT_ROOT / "app" / "console" / "js"
TESTS = PROJECT_ROOT / "tests" / "js" / "console"


def test_the_console_modules_pass_their_node_tests():
    files = sorted(str(path) for path in TESTS.glob("*.test.mjs"))
    assert files, "no unit tests for the console's modules"
    run = subprocess.run(["node", "--test", *files], capture_output=True, text=True, timeout=120)
    counts = dict(re.findall(r"^# (tests|pass|fail) (\d+)$", run.stdout, re.MULTILINE))
    assert run.returncode == 0 and counts["fail"] == "0", run.stdout[-6000:] + run.stderr
    assert int(counts["pass"]) >= len(files), "each test file ran tests"


def test_no_console_script_calls_or_compares_a_use_case_by_its_name():
    """The pages come from what /me says of each use case (its `workspace`), so a use case
    added to chains/ gets its page with no change to the console."""
    names = "|".join(re.escape(use_case.name) for use_case in discover_use_cases())
    named = re.compile(rf"""["'`]/(?:{names})\b|===?\s*["'`](?:{names})["'`]""")
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
        for path in SCRIPTS.rglob("*.mjs")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if named.search(line)
    ]
    assert found == []
