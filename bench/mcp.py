"""An MCP `tools/call` on a use case beside the same use case's HTTP `invoke`, on one
platform, in one run: p50 of each, one request at a time over a kept-alive connection, the
two interleaved round by round, and each one's overhead over the upstream's own p50.

    python -m bench.mcp [--quick]

Both are posted by hand (httpx, the same client): the MCP SDK's own client would add its
cost to the tool call's side only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench import systems
from bench.measure import CHAT, SUMMARY_TEXT

ACCEPT = "application/json, text/event-stream"
INVOKE, TOOL = "/summarize/invoke", "/mcp tools/call summarize"


def _session(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, str]:
    """An MCP session opened on the platform; the headers each of its messages carries."""
    headers = {**headers, "Accept": ACCEPT, "Content-Type": "application/json"}
    params = {"protocolVersion": "2025-06-18", "capabilities": {},
              "clientInfo": {"name": "bench", "version": "1"}}  # fmt: skip
    opened = client.post(url, json={"jsonrpc": "2.0", "id": 0, "method": "initialize",
                                    "params": params}, headers=headers)  # fmt: skip
    opened.raise_for_status()
    headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
    client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers=headers).raise_for_status()  # fmt: skip
    return headers


def _timed(send: Callable[[], httpx.Response], check: Callable[[httpx.Response], bool]) -> float:
    started = time.perf_counter()
    response = send()
    spent = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or not check(response):
        raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
    return spent


def tool_call_overhead(workdir: Path, rounds: int, per_round: int) -> dict[str, Any]:
    with (
        systems.mock_upstream(workdir) as mock,
        systems.platform(workdir, mock.url, name="mcp") as server,
        httpx.Client(timeout=30) as client,
    ):
        mcp = f"{server.url}/mcp"
        session = _session(client, mcp, server.headers)
        ids = itertools.count(1)
        arguments = {"text": SUMMARY_TEXT}

        def tool() -> httpx.Response:
            call = {"jsonrpc": "2.0", "id": next(ids), "method": "tools/call",
                    "params": {"name": "summarize", "arguments": arguments}}  # fmt: skip
            return client.post(mcp, json=call, headers=session)

        sends = {
            "direct": (lambda: client.post(f"{mock.url}/chat/completions", json=CHAT),
                       lambda r: True),
            INVOKE: (lambda: client.post(f"{server.url}{INVOKE}", json={"input": arguments},
                                         headers=server.headers), lambda r: True),
            TOOL: (tool, lambda r: '"isError":false' in r.text),
        }  # fmt: skip
        samples: dict[str, list[float]] = {label: [] for label in sends}
        for send, check in sends.values():  # warm-up
            for _ in range(20):
                _timed(send, check)
        for _ in range(rounds):
            for label, (send, check) in sends.items():
                samples[label] += [_timed(send, check) for _ in range(per_round)]
    p50 = {label: statistics.median(values) for label, values in samples.items()}
    invoke, tool_call = p50[INVOKE] - p50["direct"], p50[TOOL] - p50["direct"]
    return {"p50_ms": p50, "invoke_overhead_ms": invoke, "tool_overhead_ms": tool_call,
            "ratio": tool_call / invoke}  # fmt: skip


def report_lines(results: dict[str, Any]) -> list[str]:
    figures = results.get("mcp")
    if not figures:
        return []
    return [
        "## MCP",
        "",
        "A `tools/call` of `summarize` on `/mcp` (a session opened first) beside "
        "`POST /summarize/invoke` with the same text, on one platform, p50 over the "
        "upstream's own, one request at a time, interleaved:",
        "",
        "| | p50 ms | over the upstream, ms |",
        "|---|---|---|",
        f"| upstream direct | {figures['p50_ms']['direct']:.2f} | - |",
        f"| `{INVOKE}` | {figures['p50_ms'][INVOKE]:.2f} | {figures['invoke_overhead_ms']:.2f} |",
        f"| `{TOOL}` | {figures['p50_ms'][TOOL]:.2f} | {figures['tool_overhead_ms']:.2f} |",
        "",
        f"The tool call costs **{figures['ratio']:.2f}x** the invoke's overhead: the same "
        "reading, admission, chain and ledger row, plus the MCP SDK's session dispatch and "
        "its SSE answer.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, per_round = (2, 20) if args.quick else (5, 100)
    with tempfile.TemporaryDirectory(prefix="genai-bench-") as folder:
        figures = tool_call_overhead(Path(folder), rounds, per_round)
    print(json.dumps(figures, indent=1))
    print("\n".join(report_lines({"mcp": figures})))


if __name__ == "__main__":
    main()
