"""Two client apps share one running server on the real model; usage is counted exactly."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import FAST, RunningPlatform

pytestmark = pytest.mark.model


def genai(platform: RunningPlatform, *args: str) -> str:
    """The `genai` command line, on the running server's data folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GENAI_")}
    env["GENAI_DATA_DIR"] = str(platform.data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def new_key(platform: RunningPlatform, tenant: str) -> str:
    return genai(platform, "keys", "create", "--tenant", tenant, "--name", "app").splitlines()[-1]


async def test_two_client_apps_share_the_server_within_their_own_limits(platform):
    genai(platform, "tenants", "create", "web-app", "--rpm", "3",
          "--allowed-routes", "generate,chat")  # fmt: skip
    genai(platform, "tenants", "create", "reports", "--allowed-routes", "summarize",
          "--allowed-models", "local")  # fmt: skip
    web, reports = new_key(platform, "web-app"), new_key(platform, "reports")
    chat = {
        "input": {"messages": [{"type": "human", "content": "The secret word is banana."}]},
        "config": {"configurable": {"session_id": "web-1", **FAST}},
    }
    async with platform.client(web) as client:
        assert (await client.post("/chat/invoke", json=chat)).status_code == 200
        statuses = await asyncio.gather(*(
            client.post("/generate/invoke", json={"input": {"prompt": "Hi"}, "config": {
                "configurable": FAST}}) for _ in range(4)
        ))  # fmt: skip
        assert sorted(r.status_code for r in statuses) == [200, 200, 429, 429]
        assert (
            await client.post("/summarize/invoke", json={"input": {"text": "x"}})
        ).status_code == 403
        web_usage = (await client.get("/usage")).json()["records"]
    async with platform.client(reports) as client:
        text = {"input": {"text": "Cats sleep a lot."}, "config": {"configurable": FAST}}
        assert (await client.post("/summarize/invoke", json=text)).status_code == 200
        assert (await client.get("/chat/history?session_id=web-1")).status_code == 403
        reports_usage = (await client.get("/usage")).json()["records"]
    assert {row["tenant_id"] for row in web_usage} == {"web-app"}
    assert len(web_usage) == 3
    assert [(row["tenant_id"], row["route"]) for row in reports_usage] == [("reports", "summarize")]


async def test_streamed_tokens_are_counted_exactly_as_the_model_reports_them(platform):
    body = {
        "input": {"text": "The three primary colours are"},
        "config": {"configurable": {"temperature": 0, "max_tokens": 12}},
    }
    async with platform.client() as client:
        invoked = await client.post("/complete/invoke", json=body)
        async with client.stream("POST", "/complete/stream", json=body) as streamed:
            await streamed.aread()
        rows = {row["request_id"]: row for row in (await client.get("/usage")).json()["records"]}
    reported = rows[invoked.headers["x-request-id"]]
    counted = rows[streamed.headers["x-request-id"]]
    assert reported["token_source"] == "provider"
    assert counted["token_source"] == "counted"
    assert (counted["input_tokens"], counted["output_tokens"]) == (
        reported["input_tokens"],
        reported["output_tokens"],
    )
    assert counted["output_tokens"] == 12


def test_keys_never_reach_the_server_log(platform):
    """The server log (request lines and what is printed at start included) never holds a
    key's secret: the admin key is printed only to a terminal, and this output is a file."""
    signed_in = httpx.post(
        f"{platform.url}/signin", json={"key": platform.admin_key},
        headers={"Origin": platform.url},
    )  # fmt: skip
    assert signed_in.status_code == 204
    log = _log_once_it_holds(platform.data_dir / "server.log", '"route":"/signin"')
    secret = platform.admin_key.rsplit("-", 1)[1]
    assert [line for line in log.splitlines() if secret in line] == []
    assert any(line.startswith("Open http://127.0.0.1:") for line in log.splitlines())
    request_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line.get("route") == "/signin" and line.get("status") == 204
               for line in request_lines)  # fmt: skip


LONG_STREAM = {
    "model": "local", "stream": True, "temperature": 0, "max_tokens": 300,
    "messages": [{"role": "user", "content": "Write a long story about a dragon and a knight."}],
}  # fmt: skip
SHORT = {"model": "local", "temperature": 0, "max_tokens": 8,
         "messages": [{"role": "user", "content": "Say hello."}]}  # fmt: skip


async def _stream_seconds(client: httpx.AsyncClient) -> float:
    started = time.monotonic()
    async with client.stream("POST", "/v1/chat/completions", json=LONG_STREAM) as response:
        assert response.status_code == 200
        lines = [line async for line in response.aiter_lines() if line.startswith("data:")]
    assert lines[-1] == "data: [DONE]"
    return time.monotonic() - started


async def test_a_misbehaving_tenant_cannot_take_the_model_from_another(platform):
    """One tenant sends a parameter llama.cpp itself answers with a 500, then floods the model
    with long streams; the other tenant's short requests are answered all the while.

    The bound: a quiet request waits for at most the one noisy stream being generated (the
    model serves tenants in turn), plus 3 s; in arrival order it would wait for all four."""
    for tenant in ("noisy", "quiet"):
        genai(platform, "tenants", "create", tenant)
    noisy_key, quiet_key = new_key(platform, "noisy"), new_key(platform, "quiet")
    async with platform.client(noisy_key) as noisy, platform.client(quiet_key) as quiet:
        for client in (noisy, quiet):  # every request a call to the model, none a cache hit
            client.headers["Cache-Control"] = "no-store"
        for _ in range(5):  # more than the 3 failures that open a circuit
            rejected = await noisy.post("/v1/chat/completions", json={**SHORT, "top_k": "x"})
            assert rejected.status_code == 502, rejected.text
            assert rejected.json()["error"]["code"] == "provider_failed"
        one_stream = await _stream_seconds(noisy)
        flood = [asyncio.ensure_future(_stream_seconds(noisy)) for _ in range(4)]
        await asyncio.sleep(1.0)
        waits = []
        for _ in range(3):
            started = time.monotonic()
            answered = await quiet.post("/v1/chat/completions", json=SHORT)
            assert answered.status_code == 200, answered.text
            waits.append(time.monotonic() - started)
        flooded = await asyncio.gather(*flood)
        metrics = (await platform.client().get("/metrics")).text
    assert max(waits) < one_stream + 3.0, (waits, one_stream)
    assert max(flooded) > 3 * one_stream  # the noisy streams really queued behind each other
    assert 'genai_circuit_state{deployment="local:smollm2@local"} 0.0' in metrics


def _log_once_it_holds(path: Path, text: str, timeout: float = 5.0) -> str:
    """The log, once `text` is in it: a request's line is written just after its response."""
    deadline = time.monotonic() + timeout
    log = path.read_text()
    while text not in log and time.monotonic() < deadline:
        time.sleep(0.05)
        log = path.read_text()
    return log
