"""Cold start: from starting `genai serve` to its first answered /v1 request, and what
importing the platform costs, module by module.

The platform answers from a remote provider (the mock upstream), with its features on (keys,
limits, metering, the ledger). A first start creates the database and the admin key, as a
deployment's first instance would; each measured start then finds them, as later instances
do. The clock starts before the process is spawned and stops when a chat completion comes
back 200: interpreter start, imports, building the services, uvicorn, and the request itself.
"""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from app.providers.local_server import free_loopback_port
from bench import systems
from tests.support.processes import ROOT, clean_environment

GOAL_SECONDS = 1.0
BODY = {"model": "mock", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8}


def _first_answer_seconds(
    env: dict[str, str], headers: dict[str, str], log: Path, root: Path
) -> float:
    port = free_loopback_port()
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=root,
            env=clean_environment(env), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        while time.perf_counter() - started < 60:
            try:
                if httpx.post(url, json=BODY, headers=headers, timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.005)
        raise RuntimeError(f"no answer within 60 s: {log.read_text()[-2000:]}")
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure(
    workdir: Path, upstream: str, rounds: int, previous: Path | None = None
) -> dict[str, Any]:
    """The cold start's figures for the report; with `previous` (the previous head's
    checkout), its starts too, alternating with this tree's."""
    roots = {"first_answer": ROOT} | ({"previous_first_answer": previous} if previous else {})
    return {"rounds": rounds, **first_answers(workdir, upstream, rounds, roots),
            "imports": import_profile()}  # fmt: skip


def first_answers(
    workdir: Path, upstream: str, rounds: int, roots: dict[str, Path]
) -> dict[str, dict[str, float]]:
    """Seconds from spawning the process to the first 200 on /v1, over `rounds` starts of the
    code at each root, the roots taking turns. Each root has a data folder of its own, made by
    its own first start (an older head cannot open a database a newer one migrated), and its
    code compiled to bytecode first, as an installed platform's is (`pip install` and the
    image compile it; `make run` too): a start does not compile the platform's sources."""
    started: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for key, root in roots.items():
        for package in ("app", "chains"):
            compileall.compile_dir(root / package, quiet=1)
        name = f"cold-{key}"
        with systems.platform(workdir, upstream, name=name, root=root) as server:
            started[key] = systems.platform_env(workdir, upstream, name), server.headers
    log = workdir / "cold-starts.log"
    samples: dict[str, list[float]] = {key: [] for key in roots}
    for _ in range(rounds):
        for key, root in roots.items():
            env, headers = started[key]
            samples[key].append(_first_answer_seconds(env, headers, log, root))
    return {
        key: {"median": statistics.median(values), "min": min(values), "max": max(values)}
        for key, values in samples.items()
    }


def import_profile(top: int = 12) -> dict[str, object]:
    """`python -X importtime -c 'import app.main'`: the total, and the packages the platform's
    modules import, costliest first (ms, with what each pulled in first)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app.main"], cwd=ROOT,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = []  # (depth, cumulative ms, module), children before their parent
    for line in run.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue  # the header, or not importtime's
        name = parts[2]
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        lines.append((depth, int(parts[1]) / 1000, name.strip()))
    by_package: dict[str, float] = {}
    parent_at: dict[int, str] = {}
    for depth, total, module in reversed(lines):  # a parent comes before its children here
        package, parent = module.split(".")[0], parent_at.get(depth - 1, "")
        parent_at[depth] = module
        if package != "app" and parent.split(".")[0] == "app":
            # imported by the platform itself: it holds what the package pulled in with it
            by_package[package] = by_package.get(package, 0.0) + total
    total = next(total for _, total, module in lines if module == "app.main")
    costliest = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]
    return {"total_ms": total, "packages": costliest}


def goal_row(results: dict[str, Any]) -> str:
    """The cold start's row in the report's goals table."""
    median = results["cold_start"]["first_answer"]["median"]
    met = "met" if median <= GOAL_SECONDS else "**missed**"
    goal = f"≤ {GOAL_SECONDS:g} s"
    return f"| cold start to the first `/v1` answer, median | {goal} | {median:.2f} s | {met} |"


def report_lines(results: dict[str, Any]) -> list[str]:
    """The report's cold start section."""
    cold = results["cold_start"]
    answer, imports = cold["first_answer"], cold["imports"]
    return [
        "## Cold start",
        "",
        f"From spawning `genai serve` to its first 200 on `/v1/chat/completions`, over "
        f"{cold['rounds']} starts, with a remote provider (the mock upstream) and every feature "
        "on, on a database the first start created (as a scale-to-zero instance finds it): "
        f"median **{answer['median']:.2f} s** (min {answer['min']:.2f}, max {answer['max']:.2f}).",
        "",
        f"Importing the platform (`python -X importtime -c 'import app.main'`) takes "
        f"{imports['total_ms']:.0f} ms. The packages it imports, costliest first, each with what "
        "it pulled in first:",
        "",
        "| package | ms |",
        "|---|---|",
        *(f"| {package} | {ms:.0f} |" for package, ms in imports["packages"]),
        "",
        "Before the cold start was measured, it took 2.5 s on this machine (2026-11-25). Four "
        "changes cut it. Redis is imported only with `GENAI_REDIS_URL`, OpenTelemetry only with "
        "`GENAI_OTLP_ENDPOINT`, and Alembic only when the schema is behind its newest "
        "migration. The OpenAPI schemas are generated with the document, on its first request. "
        "LangChain and LangServe remain, since every chain route needs them at startup, and "
        "they are most of what is left above the goal.",
        "",
    ]
