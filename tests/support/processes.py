"""Starting a server as a child process, for the integration tests and the benchmarks alike.

`running(command, url, log)` starts it (the `GENAI_` variables of this environment left out,
so only what the caller passes configures the platform), waits until `url` answers below 500,
and stops it at the end: SIGTERM, then SIGKILL if it lingers.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its GENAI_ settings, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GENAI_")}
    env.update(extra)
    return env


@contextmanager
def running(
    command: Sequence[str], url: str, log: Path, env: Mapping[str, str] | None = None,
    startup_seconds: float = 240, stop_seconds: float = 30, cwd: Path = ROOT,
) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """The process, started in `cwd`, once `url` answers; stopped when the block ends."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=clean_environment(env or {}), stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait(url, process, log, startup_seconds)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
