"""The servers a benchmark run starts: the mock upstream, the platform, the two anchors and
the bare forwarder (the floor under /v1).

Each runs as its own process on a free loopback port and is stopped when the run ends.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from app.observability.logs import logging_config
from app.providers.local_server import bundled_model_path, free_loopback_port, llama_server_command
from app.settings import LocalModelSettings
from tests.support.processes import running

ROOT = Path(__file__).resolve().parents[1]
LITELLM_VENV = ROOT / "bench" / ".venvs" / "litellm"
LITELLM_REQUIREMENT = "litellm[proxy]"


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def _process(
    name: str, command: list[str], health: str, port: int, workdir: Path,
    env: dict[str, str] | None = None, root: Path = ROOT,
) -> Iterator[Server]:  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(command, url + health, workdir / f"{name}.log", env, cwd=root) as process:
        yield Server(name, url, process)


@contextmanager
def mock_upstream(
    workdir: Path, chunks: int = 8, delay_ms: float = 0.0, *first_token: str, name: str = ""
) -> Iterator[Server]:
    """The mock upstream; `first_token`: its --first-token-ms/--slow-* arguments."""
    port = free_loopback_port()
    command = [sys.executable, "-m", "bench.mock_upstream", "--port", str(port),
               "--chunks", str(chunks), "--delay-ms", str(delay_ms), *first_token]  # fmt: skip
    name = name or f"mock-{delay_ms:g}ms"
    with _process(name, command, "/v1/models", port, workdir) as server:
        server.url += "/v1"
        yield server


def platform_config(workdir: Path, upstream: str | None) -> Path:
    """The platform over the mock upstream (alias "mock"), or on the embedded model."""
    models = (
        {"mock": {"provider": "openai-compatible", "base_url": upstream, "model": "mock"}}
        if upstream
        else {"local": {"provider": "local"}}
    )
    path = workdir / f"platform-{'mock' if upstream else 'local'}.yaml"
    path.write_text(yaml.safe_dump({"models": models, "default_model": next(iter(models))}))
    return path


def platform_env(
    workdir: Path, upstream: str | None, name: str, config: Path | None = None
) -> dict[str, str]:
    """The environment `genai serve` runs in: its config and its own data folder."""
    return {
        "GENAI_CONFIG_FILE": str(config or platform_config(workdir, upstream)),
        "GENAI_DATA_DIR": str(workdir / f"{name}-data"),
        "GENAI_LOG_FORMAT": "json",
    }


@contextmanager
def platform(
    workdir: Path, upstream: str | None, workers: int = 1, name: str = "platform",
    config: Path | None = None, root: Path = ROOT,
) -> Iterator[Server]:  # fmt: skip
    """genai-platform with auth, limits and the ledger on (SQLite, as `make run` has it), over
    the mock upstream, the embedded model, or the models of `config`; its code is the tree at
    `root` (this one, or the previous head's worktree: `python -m` imports from where it runs).

    One worker is `genai serve`; two are uvicorn's workers over the app factory (the data
    folder is made by a one-worker start first, so they do not race to create it).
    """
    data = workdir / f"{name}-data"
    env = platform_env(workdir, upstream, name, config)
    port = free_loopback_port()
    if workers == 1:
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    else:
        log_config = workdir / "platform-logging.json"  # the same request lines as serve's
        log_config.write_text(json.dumps(logging_config("info", "json")))
        command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
                   "--port", str(port), "--workers", str(workers),
                   "--log-config", str(log_config)]  # fmt: skip
    with _process(f"{name}-{workers}w", command, "/ready", port, workdir, env, root) as server:
        admin_key = (data / "admin-key").read_text().strip()
        server.headers = {"Authorization": f"Bearer {admin_key}"}
        yield server


@contextmanager
def _app_over_upstream(
    name: str, app: str, workdir: Path, upstream: str, workers: int = 1
) -> Iterator[Server]:
    """An ASGI app of bench/ under uvicorn, told the upstream by BENCH_UPSTREAM."""
    port = free_loopback_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers",
               str(workers), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    env = {"BENCH_UPSTREAM": upstream}
    with _process(f"{name}-{workers}w", command, "/docs", port, workdir, env) as server:
        yield server


def plain_langserve(
    workdir: Path, upstream: str, workers: int = 1
) -> AbstractContextManager[Server]:
    return _app_over_upstream("langserve", "bench.plain_langserve:app", workdir, upstream, workers)


def bare_forwarder(workdir: Path, upstream: str) -> AbstractContextManager[Server]:
    return _app_over_upstream("forwarder", "bench.bare_forwarder:app", workdir, upstream)


def ensure_litellm() -> Path:
    """LiteLLM's proxy in a virtual environment of its own (bench/.venvs/litellm)."""
    binary = LITELLM_VENV / "bin" / "litellm"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        pip = [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, LITELLM_REQUIREMENT], check=True)
    return binary


def litellm_version() -> str:
    python = LITELLM_VENV / "bin" / "python"
    script = "import importlib.metadata as m; print(m.version('litellm'))"
    return subprocess.run([python, "-c", script], capture_output=True, text=True).stdout.strip()


@contextmanager
def litellm(workdir: Path, upstream: str, workers: int = 1) -> Iterator[Server]:
    config = workdir / "litellm.yaml"
    model = {
        "model_name": "mock",
        "litellm_params": {"model": "openai/mock", "api_base": upstream, "api_key": "x"},
    }
    master_key = "sk-" + secrets.token_hex(32)  # LiteLLM refuses to start without one
    settings = {"model_list": [model], "general_settings": {"master_key": master_key}}
    config.write_text(yaml.safe_dump(settings))
    port = free_loopback_port()
    command = [str(ensure_litellm()), "--config", str(config), "--port", str(port),
               "--host", "127.0.0.1", "--num_workers", str(workers)]  # fmt: skip
    env = {"LITELLM_LOG": "ERROR", "DISABLE_SCHEMA_UPDATE": "true"}
    with _process(f"litellm-{workers}w", command, "/health/liveliness", port, workdir, env) as s:
        s.headers = {"Authorization": f"Bearer {master_key}"}
        yield s


@contextmanager
def llama_direct(workdir: Path) -> Iterator[Server]:
    """llama.cpp's OpenAI server on the embedded model, as the platform starts it."""
    port = free_loopback_port()
    n_ctx = LocalModelSettings().n_ctx
    command = llama_server_command(bundled_model_path(), port, n_ctx)
    with _process("llama-direct", command, "/v1/models", port, workdir) as server:
        server.url += "/v1"
        yield server
