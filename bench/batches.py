"""Batches against the mock upstream: how many lines a second one replica (`genai serve`, SQLite
as `make run` has it) answers, and what a running batch costs interactive calls: /v1's p99
latency while a batch runs, beside its p99 when the platform is idle, in the same run.

    python -m bench.batches [--lines 10000] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import systems
from bench.measure import CHAT, Target, _once, chat_target, percentiles

ENDPOINT = "/v1/chat/completions"
P99_GOAL = 1.5  # interactive p99 beside a batch, over idle


def _batch(client: httpx.Client, server: systems.Server, lines: int) -> str:
    content = "".join(
        json.dumps({"custom_id": f"line-{n}", "method": "POST", "url": ENDPOINT, "body": CHAT})
        + "\n" for n in range(lines)
    ).encode()  # fmt: skip
    upload = {"file": ("lines.jsonl", content)}
    stored = client.post(f"{server.url}/v1/files", headers=server.headers, files=upload,
                         data={"purpose": "batch"})  # fmt: skip
    stored.raise_for_status()
    created = client.post(f"{server.url}/v1/batches", headers=server.headers,
                          json={"input_file_id": stored.json()["id"], "endpoint": ENDPOINT,
                                "completion_window": "24h"})  # fmt: skip
    created.raise_for_status()
    return created.json()["id"]


def _state(client: httpx.Client, server: systems.Server, batch_id: str) -> dict[str, Any]:
    answer = client.get(f"{server.url}/v1/batches/{batch_id}", headers=server.headers)
    answer.raise_for_status()
    return answer.json()


def _latencies(client: httpx.Client, target: Target, requests: int) -> list[float]:
    return [_once(client, target, False)[1] * 1000 for _ in range(requests)]


def measure(workdir: Path, lines: int, requests: int) -> dict[str, Any]:
    """Lines a second of a batch run alone, then /v1's latency idle and beside a second
    batch (both on the database the first left, so that only the running batch differs)."""
    with (
        systems.mock_upstream(workdir) as mock,
        systems.platform(workdir, mock.url, name="batches") as server,
        httpx.Client(timeout=60) as client,
    ):
        target = chat_target("platform /v1", server, ENDPOINT)
        batch_id = _batch(client, server, lines)
        started = time.perf_counter()
        while (state := _state(client, server, batch_id))["status"] != "completed":
            if state["status"] in ("failed", "expired", "cancelled"):
                raise RuntimeError(f"batch {batch_id} {state['status']}: {state['errors']}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        _latencies(client, target, 50)  # warm-up
        idle = _latencies(client, target, requests)  # on the database the batch left
        busy_batch = _batch(client, server, lines)
        while _state(client, server, busy_batch)["request_counts"]["completed"] == 0:
            time.sleep(0.05)
        busy = _latencies(client, target, requests)
        running = _state(client, server, busy_batch)["status"] == "in_progress"
        client.post(f"{server.url}/v1/batches/{busy_batch}/cancel", headers=server.headers)
    idle_p, busy_p = percentiles(idle), percentiles(busy)
    return {"lines": lines, "seconds": seconds, "lines_per_second": lines / seconds,
            "idle": idle_p, "beside_batch": busy_p, "batch_still_running": running,
            "p99_ratio": busy_p["p99"] / idle_p["p99"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genai-bench-") as folder:
        print(json.dumps(measure(Path(folder), args.lines, args.requests), indent=1))


if __name__ == "__main__":
    main()


def report_lines(results: dict[str, Any]) -> list[str]:
    batches = results.get("batches")
    if not batches:
        return []
    idle, busy = batches["idle"], batches["beside_batch"]
    met = batches["p99_ratio"] <= P99_GOAL
    return [
        "## Batches",
        "",
        f"A {batches['lines']:,}-line chat batch against the mock upstream, one `genai serve` "
        "(SQLite), created and polled through /v1/batches (`python -m bench.batches`): "
        f"**{batches['lines_per_second']:.0f} lines/s** ({batches['seconds']:.1f} s from "
        "creation to `completed`, its output file written). Then a second such batch runs while "
        f"{idle['n']} sequential /v1 chat completions are timed, beside the same number timed "
        "with the platform idle just before:",
        "",
        "| /v1 chat completion | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
        f"| idle | {idle['p50']:.2f} | {idle['p95']:.2f} | {idle['p99']:.2f} |",
        f"| beside a running batch | {busy['p50']:.2f} | {busy['p95']:.2f} | {busy['p99']:.2f} |",
        "",
        f"p99 beside the batch is {batches['p99_ratio']:.2f}x idle (goal ≤ {P99_GOAL}x: "
        f"{'met' if met else '**missed**'}); the batch was "
        f"{'still running' if batches['batch_still_running'] else 'done'} when the timing "
        "ended.",
        "",
    ]
