"""The previous head: the platform's code as it stood at the commit last measured, checked out
in a git worktree and run beside this tree's in the same run, so every figure in
docs/benchmarks.md stands next to its predecessor's, measured on the same machine at the
same moment (a shared machine's speed drifts by tens of percent between runs).

By default the previous head is the newest commit that wrote docs/benchmarks.json: the code
the figures now in docs/ came from. `python -m bench.run --previous REF` names another.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.systems import ROOT

V1, CHAIN = "previous head /v1", "previous head /summarize"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def last_measured() -> str:
    """The newest commit that wrote docs/benchmarks.json."""
    return _git("log", "-1", "--format=%H", "--", "docs/benchmarks.json")


@contextmanager
def worktree(workdir: Path, ref: str) -> Iterator[tuple[str, Path]]:
    """`ref`'s commit (short hash) and a checkout of it, removed when the block ends."""
    commit = _git("rev-parse", "--short", f"{ref}^{{commit}}")
    path = workdir / "previous-head"
    _git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield commit, path
    finally:
        _git("worktree", "remove", "--force", str(path))


def _row(name: str, now: float, before: float, unit: str, lower_is_better: bool) -> str:
    change = now / before if before else float("nan")
    better = change < 1 if lower_is_better else change > 1
    verdict = "within 5%" if abs(change - 1) < 0.05 else "better" if better else "worse"
    now_text, before_text = (
        (f"{now:.2f} {unit}", f"{before:.2f} {unit}") if unit else (f"{now:.0f}", f"{before:.0f}")
    )
    return f"| {name} | {now_text} | {before_text} | {change:.2f}x ({verdict}) |"


def report_lines(results: dict[str, Any]) -> list[str]:
    """The report's section comparing this head with the previous one, or nothing."""
    previous = results.get("previous_head")
    if previous is None:
        return []
    seq, streaming = results["sequential"], results["streaming"]
    one = results["throughput"]["1"]
    direct = seq["direct"]["last_byte"]["p50"]
    direct_first = streaming["direct"]["first_byte"]["p50"]
    cold = results["cold_start"]

    def over(section: dict[str, Any], label: str, key: str, floor: float) -> float:
        return section[label][key]["p50"] - floor

    rows = [
        _row("`/v1` overhead, p50, not streamed", over(seq, "platform /v1", "last_byte", direct),
             over(seq, V1, "last_byte", direct), "ms", True),
        _row("`/v1` overhead to the first byte, p50, streamed",
             over(streaming, "platform /v1", "first_byte", direct_first),
             over(streaming, V1, "first_byte", direct_first), "ms", True),
        _row("`/summarize/invoke` overhead, p50",
             over(seq, "platform /summarize", "last_byte", direct),
             over(seq, CHAIN, "last_byte", direct), "ms", True),
        _row("`/v1` req/s, 32 connections, one worker", one["platform /v1"][32]["rps"],
             one[V1][32]["rps"], "", False),
        _row("`/summarize` req/s, 32 connections, one worker",
             one["platform /summarize"][32]["rps"], one[CHAIN][32]["rps"], "", False),
        _row("cold start to the first `/v1` answer, median",
             cold["first_answer"]["median"], cold["previous_first_answer"]["median"], "s", True),
    ]  # fmt: skip
    return [
        "## Beside the previous head",
        "",
        f"This tree against `{previous}` (the code the previous figures came from), each run as "
        "`genai serve` from its own checkout in this same run, against the same upstream, "
        "their requests interleaved with every other system's.",
        "",
        "| figure | this head | previous head | this / previous |",
        "|---|---|---|---|",
        *rows,
        "",
    ]
