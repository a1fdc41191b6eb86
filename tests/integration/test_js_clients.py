"""The JavaScript clients, unchanged, against the real platform: LangChain.js's RemoteRunnable
(the LangServe protocol, custom events included) and the openai SDK for Node, both pinned in
tests/js (installed there by `make test`), each scenario run by tests/js/clients.mjs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.model

CLIENTS = Path(__file__).parents[1] / "js"


def run_client(platform, scenario: str) -> Any:
    """The scenario's outcome, as the JavaScript client saw it."""
    assert (CLIENTS / "node_modules").is_dir(), "tests/js has no node_modules: run `make test`"
    env = {**os.environ, "GENAI_URL": platform.url, "GENAI_KEY": platform.admin_key}
    done = subprocess.run(
        ["node", "clients.mjs", scenario], cwd=CLIENTS, env=env, capture_output=True,
        text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_openai_sdk_streams_a_chat_with_its_usage(platform):
    outcome = run_client(platform, "openai-stream")
    assert outcome["text"].strip()
    usage = outcome["usage"]
    assert usage["completion_tokens"] > 0 and usage["prompt_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_the_openai_sdk_embeds_with_the_embedded_model(platform):
    assert run_client(platform, "openai-embed") == {"count": 2, "dimensions": 384}


def test_the_openai_sdk_raises_the_platforms_error_naming_the_field(platform):
    assert run_client(platform, "openai-error") == {"status": 404, "param": "model"}


def test_remote_runnable_streams_a_use_case(platform):
    chunks = run_client(platform, "remote-stream")["chunks"]
    assert len([chunk for chunk in chunks if chunk]) >= 3
    assert "".join(chunks).strip()


def test_remote_runnable_sees_summarize_progress_as_custom_events(platform):
    outcome = run_client(platform, "remote-progress")
    first_round = [step["part"] for step in outcome["progress"] if step["round"] == 1]
    assert first_round[:2] == [1, 2] and all(step["of"] >= 2 for step in outcome["progress"])
    assert outcome["summary"].strip(), "the summary follows its progress"


def test_remote_runnable_raises_with_the_real_error(platform):
    error = run_client(platform, "remote-error")["error"]
    assert "422" in error and '"param":"prompt"' in error
