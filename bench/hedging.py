"""Hedging: time to first token with one deployment slow 10% of the time, hedging off and on.

Two mock upstreams: the primary sends its first token after 50 ms, but every 10th stream after
1 s; the backup always after 50 ms. The platform serves two aliases over both, in that order:
`off` (plain failover) and `on` (`hedge_after_ms: 150`, up to 20% of requests hedged). Each is
asked the same number of streamed chat completions, one at a time; the client's clock runs
from sending to the first content chunk. The extra cost is the hedged requests' share: each
hedge is one more upstream call, billed, as the ledger's `hedged` rows say.

    python -m bench.hedging [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import systems

FIRST_TOKEN_MS, SLOW_EVERY, SLOW_MS = 50, 10, 1000
HEDGE_AFTER_MS, HEDGE_MAX_PERCENT = 150, 20
BODY = {"messages": [{"role": "user", "content": "Hello"}], "stream": True, "max_tokens": 16}


def _config(workdir: Path, primary: str, backup: str) -> Path:
    deployments = [
        {"provider": "openai-compatible", "base_url": url, "model": "mock", "max_retries": 0}
        for url in (primary, backup)
    ]
    hedge = {"hedge_after_ms": HEDGE_AFTER_MS, "hedge_max_percent": HEDGE_MAX_PERCENT}
    models = {"off": {"deployments": deployments}, "on": {"deployments": deployments, **hedge}}
    path = workdir / "platform-hedging.yaml"
    path.write_text(yaml.safe_dump({"models": models, "default_model": "off"}))
    return path


def _first_token_seconds(client: httpx.Client, alias: str) -> float:
    started = time.perf_counter()
    with client.stream("POST", "/v1/chat/completions", json={**BODY, "model": alias}) as answer:
        answer.raise_for_status()
        first = None
        for line in answer.iter_lines():
            if first is None and line.startswith("data: {") and _has_content(line[6:]):
                first = time.perf_counter() - started
    if first is None:
        raise RuntimeError(f"alias {alias}: no content")
    return first


def _has_content(data: str) -> bool:
    choices = json.loads(data).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(workdir: Path, requests: int) -> dict[str, Any]:
    slow = ["--first-token-ms", str(FIRST_TOKEN_MS), "--slow-every", str(SLOW_EVERY),
            "--slow-ms", str(SLOW_MS)]  # fmt: skip
    fast = ["--first-token-ms", str(FIRST_TOKEN_MS)]
    with (
        systems.mock_upstream(workdir, 8, 0, *slow, name="mock-primary") as primary,
        systems.mock_upstream(workdir, 8, 0, *fast, name="mock-backup") as backup,
        systems.platform(
            workdir, None, name="hedging", config=_config(workdir, primary.url, backup.url)
        ) as gp,
        httpx.Client(base_url=gp.url, headers=gp.headers, timeout=30) as client,
    ):
        figures: dict[str, Any] = {}
        for alias in ("off", "on"):
            seconds = [_first_token_seconds(client, alias) for _ in range(requests)]
            rows = client.get("/usage", params={"model": alias, "limit": 10_000}).json()
            hedged = sum(row["hedged"] for row in rows["records"])
            figures[alias] = {
                "p50_ms": statistics.median(seconds) * 1000,
                "p99_ms": _percentile(seconds, 0.99) * 1000,
                "mean_ms": statistics.fmean(seconds) * 1000,
                "upstream_calls_per_request": (requests + hedged) / requests,
            }
    return {
        "requests": requests,
        "setup": {"first_token_ms": FIRST_TOKEN_MS, "slow_every": SLOW_EVERY, "slow_ms": SLOW_MS,
                  "hedge_after_ms": HEDGE_AFTER_MS, "hedge_max_percent": HEDGE_MAX_PERCENT},
        **figures,
    }  # fmt: skip


def report_lines(results: dict[str, Any]) -> list[str]:
    hedging = results.get("hedging")
    if not hedging:
        return []
    setup, off, on = hedging["setup"], hedging["off"], hedging["on"]
    rows = [
        f"| {label} | {_ms(f['p50_ms'])} | {_ms(f['p99_ms'])} | {_ms(f['mean_ms'])} | "
        f"{f['upstream_calls_per_request']:.2f} |"
        for label, f in (("hedging off", off), ("hedging on", on))
    ]
    return [
        "## Hedging a slow first token",
        "",
        f"The alias's first deployment sends its first token after {setup['first_token_ms']} "
        f"ms, but every {setup['slow_every']}th stream after {setup['slow_ms']} ms; the second "
        f"always after {setup['first_token_ms']} ms. With `hedge_after_ms: "
        f"{setup['hedge_after_ms']}` (at most {setup['hedge_max_percent']}% of requests "
        f"hedged), {hedging['requests']} sequential streamed requests per row, `python -m "
        "bench.hedging`. Time to first token as the client sees it; the extra cost is the "
        "upstream calls per request (each hedge is one more call, billed).",
        "",
        "| | TTFT p50 | TTFT p99 | TTFT mean | upstream calls per request |",
        "|---|---|---|---|---|",
        *rows,
        "",
        f"p99 falls from {_ms(off['p99_ms'])} to {_ms(on['p99_ms'])} "
        f"({off['p99_ms'] / on['p99_ms']:.1f}x) for "
        f"{(on['upstream_calls_per_request'] - 1) * 100:.0f}% more upstream calls.",
        "",
    ]


def _ms(value: float) -> str:
    return f"{value:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="genai-hedging-") as folder:
        print(json.dumps(measure(Path(folder), args.requests), indent=1))


if __name__ == "__main__":
    main()
