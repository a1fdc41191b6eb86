"""The README's examples, run as written against the real platform (embedded model).

Each block is read out of README.md itself; only its address (127.0.0.1:8000), the admin key's
path and placeholders such as <key-id> are filled in. A README that stops working fails here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.async_api import Page

from app.settings import PROJECT_ROOT, load_settings
from tests.integration.conftest import RunningPlatform

pytestmark = pytest.mark.model

README = (PROJECT_ROOT / "README.md").read_text()


def block(heading: str, language: str) -> str:
    """The first ```language block after the line that starts with `heading`."""
    start = README.index(f"\n{heading}")
    found = re.compile(rf"```{language}\n(.*?)```", re.S).search(README, start)
    assert found, f"no {language} block after {heading!r}"
    return found.group(1)


def addressed(code: str, platform: RunningPlatform) -> str:
    return code.replace("http://127.0.0.1:8000", platform.url).replace(
        "localhost:8000", platform.url.removeprefix("http://")
    )


def run_python(code: str, **names: object) -> str:
    """Run a README Python block with `names` defined; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), dict(names))  # the README's own code
    return printed.getvalue()


def test_the_curl_examples(platform: RunningPlatform):
    script = addressed(block("### curl", "sh"), platform)
    script = script.replace("var/admin-key", str(platform.data_dir / "admin-key"))
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '"error"' not in out, out
    assert '"output":' in out  # /generate/invoke and /chat/invoke
    assert "event: data" in out and "event: end" in out  # /summarize/stream
    assert '"session_id":"my-session"' in out.replace(" ", "")  # /chat/history
    assert "request_id,client_request_id,created_at" in out  # /usage?format=csv


def test_the_remote_runnable_example_chat_pairs_included(platform, tmp_path, monkeypatch):
    (tmp_path / "report.txt").write_text(
        "The river town of Alderford built a stone bridge in 1820 after the floods. "
        "Its market sold wool, cheese and apples every Thursday for two centuries."
    )
    monkeypatch.chdir(tmp_path)
    code = addressed(block("### Python (`RemoteRunnable`)", "python"), platform)
    printed = run_python(code, key=platform.admin_key)
    assert len(printed.strip()) > 20
    history = httpx.get(
        f"{platform.url}/chat/history", params={"session_id": "ada-1"}, headers=platform.headers
    )
    assert history.json()["messages"][0]["data"]["content"] == "Hello, I am Ada."


def test_the_openai_sdk_example(platform: RunningPlatform):
    code = addressed(block("### The OpenAI API (`/v1`)", "python"), platform)
    printed = run_python(code, key=platform.admin_key)
    assert printed.split() == ["['local',", "'local-embed']", "384"]


def test_the_responses_and_messages_example(platform: RunningPlatform):
    code = addressed(block("The Responses API and Anthropic's Messages API", "python"), platform)
    assert run_python(code, key=platform.admin_key).split() == ["True", "text"]


def test_the_mcp_clients_example(platform: RunningPlatform):
    code = addressed(block("## Agents over MCP", "python"), platform)
    printed = run_python(code, key=platform.admin_key).splitlines()
    names = "['assist', 'chat', 'code', 'complete', 'generate', 'summarize']"
    assert printed == [names, "False", "6"]


def test_the_resumable_stream_example(platform: RunningPlatform):
    code = addressed(block("## Streams that survive", "python"), platform)
    printed = [line for line in run_python(code, key=platform.admin_key).splitlines() if line]
    assert printed[0] == "id: 4", "the first event after the one the client saw last"
    assert printed[-1] == "data: [DONE]"
    ids = [int(line[3:]) for line in printed if line.startswith("id:")]
    assert ids == list(range(4, 4 + len(ids)))


async def test_the_browser_javascript_example(platform: RunningPlatform, page: Page):
    code = addressed(block("### Browser JavaScript (streaming)", "js"), platform)
    await page.goto(f"{platform.url}/health")  # a page of the platform's origin
    await page.evaluate("() => { document.body.textContent = ''; }")
    await page.evaluate(f"async (key) => {{ {code} }}", platform.admin_key)
    assert len((await page.inner_text("body")).strip()) > 10  # the streamed haiku


def test_the_command_line_examples(platform: RunningPlatform):
    env = {key: value for key, value in os.environ.items() if not key.startswith("GENAI_")}
    env["GENAI_DATA_DIR"] = str(platform.data_dir)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `genai`
    commands = block("## Tenants, keys, limits, budgets, usage", "sh").replace("\\\n", " ")
    key_id = None
    for command in filter(None, (line.split("#")[0].strip() for line in commands.splitlines())):
        if "<key-id>" in command:
            command = command.replace("<key-id>", str(key_id))
        done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (command, done.stderr)
        created = re.search(r"Created key (\w+) for tenant partner-a", done.stdout)
        key_id = created.group(1) if created else key_id
    assert key_id is not None and "requests," in done.stdout  # `genai usage`'s totals


def test_the_settings_example_is_valid(tmp_path: Path, monkeypatch):
    config = tmp_path / "genai.yaml"
    config.write_text(block("A model alias has", "yaml"))
    for key in list(os.environ):
        if key.startswith("GENAI_"):
            monkeypatch.delenv(key)
    settings = load_settings(config_file=config)
    assert len(settings.models["smart"].deployments) == 2
    assert yaml.safe_load(config.read_text())["route_models"] == {"summarize": "vllm"}
