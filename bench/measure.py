"""The measurements: sequential latency, throughput under wrk, RSS under open streams, tokens/s."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.systems import Server

SUMMARY_TEXT = (
    "The committee met on Tuesday to review the budget. It approved the new library wing, "
    "postponed the road repairs until spring, and asked for a report on water prices."
)
CHAT = {"model": "mock", "messages": [{"role": "user", "content": SUMMARY_TEXT}]}
DIALECT_CHAT = "dialects: /v1/chat/completions"
RESPONSES, MESSAGES = "dialects: /v1/responses", "dialects: /v1/messages"


@dataclass(frozen=True)
class Target:
    """One thing to measure: a server's endpoint with its request body."""

    label: str
    server: Server
    path: str
    body: dict[str, Any]

    @property
    def url(self) -> str:
        return self.server.url + self.path

    @property
    def end_marker(self) -> str:
        """What the last event of a complete stream carries (LangServe's or OpenAI's)."""
        return "event: end" if self.path.endswith("/stream") else "[DONE]"

    def streaming(self) -> Target:
        if self.path.endswith("/invoke"):
            return Target(
                self.label, self.server, self.path[: -len("invoke")] + "stream", self.body
            )
        return Target(self.label, self.server, self.path, {**self.body, "stream": True})


def chat_target(label: str, server: Server, path: str = "/chat/completions") -> Target:
    return Target(label, server, path, CHAT)


def dialect_targets(server: Server) -> list[Target]:
    """The same question in each dialect of /v1, on a platform of their own (their rows and
    responses do not weigh on the other targets' database)."""
    asked = CHAT["messages"]
    return [
        Target(DIALECT_CHAT, server, "/v1/chat/completions", CHAT),
        Target(RESPONSES, server, "/v1/responses", {"model": "mock", "input": asked}),
        Target(MESSAGES, server, "/v1/messages",
               {"model": "mock", "max_tokens": 1024, "messages": asked}),
    ]  # fmt: skip


def chain_target(label: str, server: Server) -> Target:
    return Target(label, server, "/summarize/invoke", {"input": {"text": SUMMARY_TEXT}})


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": statistics.median(ordered), "p95": at(0.95), "p99": at(0.99), "n": len(ordered)}


def _once(client: httpx.Client, target: Target, stream: bool) -> tuple[float, float]:
    """Seconds to the first body byte and to the last."""
    started = time.perf_counter()
    first = None
    with client.stream("POST", target.url, json=target.body, headers=target.server.headers) as r:
        for _ in r.iter_raw():
            first = first or time.perf_counter()
        ended = time.perf_counter()
    if r.status_code != 200:
        raise RuntimeError(f"{target.label}: {r.status_code} from {target.url}")
    if stream and first is None:
        raise RuntimeError(f"{target.label}: empty stream")
    return (first or ended) - started, ended - started


def sequential(targets: list[Target], rounds: int, per_round: int, stream: bool) -> dict:
    """Latency of one request at a time, the targets interleaved round by round (so a noisy
    moment of the shared machine hits every target alike). Milliseconds."""
    first: dict[str, list[float]] = {t.label: [] for t in targets}
    last: dict[str, list[float]] = {t.label: [] for t in targets}
    with httpx.Client(timeout=30) as client:
        for target in targets:  # warm-up: connections, caches, lazy imports
            for _ in range(20):
                _once(client, target, stream)
        for _ in range(rounds):
            for target in targets:
                for _ in range(per_round):
                    ttfb, total = _once(client, target, stream)
                    first[target.label].append(ttfb * 1000)
                    last[target.label].append(total * 1000)
    return {
        label: {"first_byte": percentiles(first[label]), "last_byte": percentiles(last[label])}
        for label in first
    }


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{headers}
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(target: Target, connections: int, seconds: int) -> dict[str, float]:
    """Requests per second and latency percentiles at `connections` open connections."""
    headers = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in target.server.headers.items()
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT.format(body=json.dumps(json.dumps(target.body)), headers=headers))
    # --timeout 10s: a slow answer counts in the latency; only a failure is an error.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "--latency", "-s", script.name, target.url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for q in ("50", "90", "99"):
        match = re.search(rf"^\s+{q}%\s+(\S+)", out, re.MULTILINE)
        result[f"p{q}"] = _milliseconds(match.group(1)) if match else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = (int(errors.group(1)) if errors else 0) + (
        sum(int(n) for n in socket.groups()) if socket else 0
    )
    return result


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, AttributeError):
            continue
    return total / 1024


async def _hold_stream(client: httpx.AsyncClient, target: Target, opened: list[int]) -> bool:
    """Read one stream to its end; True when it ended as it should."""
    try:
        async with client.stream("POST", target.url, json=target.body,
                                 headers=target.server.headers) as response:  # fmt: skip
            if response.status_code != 200:
                return False
            text, counted = "", False
            async for chunk in response.aiter_text():
                if not counted:
                    opened[0] += 1
                    counted = True
                text += chunk
            return target.end_marker in text
    except httpx.HTTPError:
        return False


async def _open_streams(target: Target, count: int, pid: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await _hold_stream(client, target, [0])  # warm
        idle = tree_rss_mb(pid)
        opened = [0]
        tasks = [asyncio.create_task(_hold_stream(client, target, opened)) for _ in range(count)]
        peak, all_open_at = idle, None
        while not all(task.done() for task in tasks):
            peak = max(peak, tree_rss_mb(pid))
            if all_open_at is None and opened[0] == count:
                all_open_at = time.monotonic()
            await asyncio.sleep(0.2)
        results = [task.result() for task in tasks]
    return {"idle_mb": idle, "peak_mb": peak, "delta_mb": peak - idle,
            "errors": results.count(False), "all_open": all_open_at is not None}  # fmt: skip


def open_streams(target: Target, count: int) -> dict[str, float]:
    """RSS (the server's process tree) while `count` streams are open at once, and errors."""
    return asyncio.run(_open_streams(target.streaming(), count, target.server.pid))


def tokens_per_second(targets: list[Target], rounds: int) -> dict[str, dict[str, float]]:
    """Completion tokens per second of the same greedy request, targets alternating, and the
    one going first swapped each round (on a shared machine, going first is no advantage)."""
    rates: dict[str, list[float]] = {t.label: [] for t in targets}
    tokens: dict[str, int] = {}
    with httpx.Client(timeout=300) as client:
        for round_ in range(rounds + 1):
            for target in targets if round_ % 2 else targets[::-1]:
                started = time.perf_counter()
                response = client.post(target.url, json=target.body, headers=target.server.headers)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                completion = response.json()["usage"]["completion_tokens"]
                if round_:  # the first round warms up
                    rates[target.label].append(completion / elapsed)
                    tokens[target.label] = completion
    return {
        label: {"tokens_per_s": statistics.median(values), "completion_tokens": tokens[label]}
        for label, values in rates.items()
    }
